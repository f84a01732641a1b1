"""`nutx mint info`'s numbers: liabilities per epoch and in sats, against the backend's balance."""

from __future__ import annotations

from pathlib import Path

from nutx_cli.core.keysets import amount_split
from nutx_cli.mint import Mint
from tests.helpers.mint import mine_shares, mint_sats, open_epoch, outputs, won_epoch


async def test_liabilities_per_epoch_and_in_sats(tmp_path: Path) -> None:
    mint = Mint.open(tmp_path / "mint")
    try:
        won = open_epoch(mint)
        proofs = await mine_shares(mint, [8, 8, 16])  # W = 32, θ_C = 100 → 25/8 sat per ehash
        won_epoch(mint, won, theta_b=100)
        mint.redeem(proofs[:1], outputs(mint.sat_keyset.id, amount_split(25)).messages)  # 8 ehash → 25 sat
        lost = open_epoch(mint)
        await mine_shares(mint, [4])
        mint.close_epoch_lost(lost, height=300, now=1_700_000_200)
        still_open = open_epoch(mint)
        await mine_shares(mint, [2, 2])
        mint_sats(mint, 40)
        summary = mint.summary_json(lightning_balance_msat=90_500)
    finally:
        mint.close()
    assert summary["epoch_liabilities"] == [
        {"epoch": still_open, "status": "open", "ehash": 4, "sat": None},
        {"epoch": lost, "status": "lost", "ehash": 4, "sat": 0},
        {"epoch": won, "status": "mature", "ehash": 24, "sat": 75},  # floor(24 × 25/8)
    ]
    assert summary["liabilities"] == {"sat": 25 + 40, "ehash": 32}
    assert summary["owed_sat"] == 25 + 40 + 75
    assert summary["lightning_balance_sat"] == 90


def test_mint_info_reads_only_the_backend_keys_of_a_pools_config(tmp_path: Path) -> None:
    """A pool's config.toml has keys `nutx mint info` does not take; it reads the Lightning ones alone."""
    import subprocess
    import sys

    Mint.open(tmp_path / "pool").close()
    (tmp_path / "pool" / "config.toml").write_text('maturity = 5\nlightning = "none"\nhttp-port = 1\n')
    out = subprocess.run(
        [sys.executable, "-m", "nutx_cli", "mint", "info", "--data-dir", str(tmp_path / "pool"), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert '"lightning_balance_sat": null' in out.stdout
    (tmp_path / "pool" / "config.toml").write_text('lightning = "lnbits"\n')
    out = subprocess.run(
        [sys.executable, "-m", "nutx_cli", "mint", "info", "--data-dir", str(tmp_path / "pool")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    expected = "--lightning lnbits needs --lnbits-url URL and --lnbits-key ADMIN_KEY"
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        f"error: cannot ask the Lightning backend for its balance: {expected}"
    ]

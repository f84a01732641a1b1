"""`nutx mint backup` and `--restore-from`: back up, delete the data dir, restore, redeem the old proofs."""

from __future__ import annotations

import asyncio
import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from nutx_cli.core.keysets import amount_split
from nutx_cli.mint import Mint, MintError
from nutx_cli.mint.backup import BackupError, read_backup, restore_backup, write_backup
from nutx_cli.mint.lightning import FakeBackend
from nutx_cli.wallet import Wallet
from tests.helpers.mint import mine_shares, mint_sats, open_epoch, outputs, won_epoch
from tests.helpers.procs import free_port, nutx_process, port_open
from tests.wallet.test_cli import earn_ehash


async def test_a_restored_mint_redeems_old_proofs_and_refuses_spent_ones(tmp_path: Path) -> None:
    mint = Mint.open(tmp_path / "mint")
    e = open_epoch(mint)
    ehash = await mine_shares(mint, [4, 4, 8])
    won_epoch(mint, e, theta_b=1600)
    sats = mint_sats(mint, 64)
    spent = mint_sats(mint, 8)
    mint.swap(spent, outputs(mint.sat_keyset.id, [8]).messages)
    sat_id, ehash_id = mint.sat_keyset.id, mint.ehash_keyset(e).id
    backup = tmp_path / "offline" / "mint.backup"
    backup.parent.mkdir()
    made = write_backup(tmp_path / "mint", backup, "mint")  # while the mint is open, as a serving one is
    mint.close()
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert (made.role, made.network, made.files) == ("mint", "regtest", {})
    shutil.rmtree(tmp_path / "mint")

    restore_backup(backup, tmp_path / "mint", "mint", "regtest")
    mint = Mint.open(tmp_path / "mint")
    try:
        assert (mint.sat_keyset.id, mint.ehash_keyset(e).id) == (sat_id, ehash_id)
        paid = mint.redeem(ehash, outputs(sat_id, amount_split(1600)).messages)
        assert sum(s.amount for s in paid) == 1600
        assert len(mint.swap(sats, outputs(sat_id, [64]).messages)) == 1
        with pytest.raises(MintError) as info:
            mint.swap(spent, outputs(sat_id, [8]).messages)
        assert info.value.name == "proof-spent"
        mint.skip_epochs(10)  # what the pool does after a restore: later epochs of the lost dir are unknown
        assert open_epoch(mint) == 11
    finally:
        mint.close()


def test_what_a_restore_refuses(tmp_path: Path) -> None:
    Mint.open(tmp_path / "mint").close()
    backup = tmp_path / "b.json"
    write_backup(tmp_path / "mint", backup, "mint")
    with pytest.raises(BackupError, match="exists; choose a new file"):
        write_backup(tmp_path / "mint", backup, "mint")
    with pytest.raises(BackupError, match="no mint database in"):
        write_backup(tmp_path / "nothing", tmp_path / "c.json", "mint")
    with pytest.raises(BackupError, match="already holds a mint; drop the flag"):
        restore_backup(backup, tmp_path / "mint", "mint", "regtest")
    with pytest.raises(BackupError, match="is a backup of a mint; restore it with `nutx mint`"):
        restore_backup(backup, tmp_path / "new", "pool", "regtest")
    with pytest.raises(BackupError, match="backup of a regtest mint; pass --network regtest"):
        restore_backup(backup, tmp_path / "new", "mint", "signet")
    damaged = json.loads(backup.read_text())
    damaged["ledger_sha256"] = "00" * 32
    (tmp_path / "d.json").write_text(json.dumps(damaged))
    with pytest.raises(BackupError, match="damaged: its ledger does not match"):
        read_backup(tmp_path / "d.json")
    (tmp_path / "e.json").write_text("{}")
    with pytest.raises(BackupError, match="is not a nutx backup"):
        read_backup(tmp_path / "e.json")
    with pytest.raises(BackupError, match="no backup at"):
        read_backup(tmp_path / "missing.json")
    assert not (tmp_path / "new").exists()


@pytest.mark.e2e
async def test_mint_serve_restored_from_a_backup(tmp_path: Path) -> None:
    """`nutx mint backup` of a serving mint; the data dir deleted; `nutx mint serve --restore-from`; the
    wallet redeems its old ehash and melts its old sats."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data, backup = tmp_path / "mint", tmp_path / "mint.backup"
    _, value = await earn_ehash(data, tmp_path / "wallet", url)
    serve = ["mint", "serve", "--data-dir", str(data), "--http-port", str(port)]
    with nutx_process(serve, tmp_path / "serve.log", ready=lambda: port_open(port)):
        wallet = Wallet.open(tmp_path / "wallet", mint_url=url)
        assert (await wallet.invoice(500, wait_s=5)).minted == 500
        out = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "nutx_cli", "mint", "backup", str(backup), "--data-dir", str(data)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        assert f"nutx mint serve --network regtest --data-dir NEW_DIR --restore-from {backup}" in out.stdout
    shutil.rmtree(data)
    with nutx_process(
        [*serve, "--restore-from", str(backup)], tmp_path / "restored.log", ready=lambda: port_open(port)
    ):
        assert await wallet.redeem() == value
        paid = await wallet.withdraw(FakeBackend().create_invoice(200_000, "after the restore", 600).request)
        assert paid["amount"] == 200
        assert wallet.balance().sats == 500 + value - 200 - paid["fee"]
        wallet.close()
    assert stat.S_IMODE((data / "mint.sqlite3").stat().st_mode) == 0o600

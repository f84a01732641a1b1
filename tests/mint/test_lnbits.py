"""The mint's LNbits backend against a REAL LNbits server (PyPI `lnbits` 1.6.2, FakeWallet funding source).

FakeWallet issues mainnet invoices, so the mint runs as an operator would run it for real:
`nutx mint serve --network mainnet --lightning lnbits`. The mint has an LNbits wallet of its own; a second
LNbits wallet (the "shop") pays the mint's invoices and issues the invoices the mint pays, so every payment
is an internal LNbits payment. A mint killed mid-melt is a `nutx mint serve` process SIGKILLed while LNbits
is paying (its answer held back by a loopback forwarder), or before LNbits heard of the payment.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import bolt11
import httpx
import pytest
from bolt11 import Bolt11, MilliSatoshi, TagChar, Tags

from nutx_cli.core.models import Proof
from nutx_cli.core.vocabulary import Unit
from nutx_cli.mint import Mint, MintError
from nutx_cli.mint.lnbits import LNbitsBackend
from nutx_cli.wallet import Wallet
from nutx_cli.wallet.client import MintRefused
from tests.helpers.holding_proxy import PAY_REQUEST, HoldingProxy, Stall
from tests.helpers.lnbits import LNbitsServer, LNbitsWallet
from tests.helpers.mint import outputs
from tests.helpers.procs import NutxProcess, free_port, nutx_process, port_open
from tests.helpers.waits import until, until_async

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("lnbits")]


@contextmanager
def mint_serve(
    tmp_path: Path, port: int, lnbits_url: str, key: str, *flags: str, log: str = "mint.log"
) -> Iterator[NutxProcess]:
    """`nutx mint serve --network mainnet --lightning lnbits`, its key in the environment (off `ps`)."""
    args = ["mint", "serve", "--data-dir", str(tmp_path / "mint"), "--http-port", str(port)]
    args += ["--network", "mainnet", "--lightning", "lnbits", "--lnbits-url", lnbits_url, *flags]
    with nutx_process(args, tmp_path / log, ready=lambda: port_open(port), env={"NUTX_LNBITS_KEY": key}) as p:
        yield p


def foreign_invoice(sats: int) -> str:
    """A well-formed mainnet invoice of a node nobody here knows: LNbits' FakeWallet cannot pay it."""
    tags = Tags()
    tags.add(TagChar.payment_hash, hashlib.sha256(b"nobody").hexdigest())
    tags.add(TagChar.payment_secret, "11" * 32)
    tags.add(TagChar.description, "elsewhere")
    tags.add(TagChar.expire_time, 3600)
    invoice = Bolt11(currency="bc", date=int(time.time()), tags=tags, amount_msat=MilliSatoshi(sats * 1000))
    return str(bolt11.encode(invoice, "22" * 32))


async def fund(wallet: Wallet, lnbits: LNbitsServer, shop: LNbitsWallet, sats: int) -> None:
    """A mint quote, paid from the shop's LNbits wallet, then minted."""
    invoice = await wallet.invoice(sats, wait_s=0)
    assert invoice.minted == 0 and invoice.request.startswith("lnbc")
    assert lnbits.pay(shop, invoice.request).status_code == 201
    assert await wallet.check_invoices() == sats


async def test_mint_and_melt_through_lnbits_on_mainnet(lnbits: LNbitsServer, tmp_path: Path) -> None:
    ours, shop = lnbits.new_wallet("mint"), lnbits.new_wallet("shop")
    lnbits.credit(shop, 10_000)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with mint_serve(tmp_path, port, lnbits.url, ours.admin_key) as proc:
        assert "Lightning: lnbits" in proc.output()
        http = httpx.AsyncClient(base_url=url, timeout=60)
        info = (await http.get("/v1/info")).json()
        assert info["nuts"]["4"]["disabled"] is False and "mainnet" in info["description"]
        wallet = Wallet.open(tmp_path / "wallet", mint_url=url)
        await fund(wallet, lnbits, shop, 1000)
        assert lnbits.balance_msat(ours) == 1_000_000
        assert wallet.balance().sats == 1000

        bill = lnbits.invoice(shop, 400, "coffee")
        quote = (
            await http.post("/v1/melt/quote/bolt11", json={"request": bill["bolt11"], "unit": "sat"})
        ).json()
        await http.aclose()
        assert (quote["amount"], quote["fee_reserve"]) == (400, 4)  # LNbits' reserve: 1 %, at least 2 sat
        paid = await wallet.withdraw(bill["bolt11"])
        assert (paid["amount"], paid["fee"]) == (400, 0)  # internal: no routing fee, the reserve comes back
        assert (
            paid["preimage"]
            and hashlib.sha256(bytes.fromhex(paid["preimage"])).hexdigest() == bill["payment_hash"]
        )
        assert lnbits.paid(shop, bill["payment_hash"])
        assert wallet.balance().sats == 600
        assert lnbits.balance_msat(ours) == 600_000
        assert lnbits.balance_msat(shop) == (10_000 - 1000 + 400) * 1000

        with pytest.raises(MintRefused) as again:
            await wallet.withdraw(bill["bolt11"])
        assert again.value.name == "invoice-already-paid"
        with pytest.raises(MintRefused) as failed:
            await wallet.withdraw(foreign_invoice(100))
        assert failed.value.name == "lightning-payment-failed" and "Only internal invoices" in str(
            failed.value
        )
        assert wallet.balance().sats == 600  # the failed melt's proofs are spendable again
        assert lnbits.balance_msat(ours) == 600_000

        out = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "nutx_cli", "mint", "info", "--data-dir", str(tmp_path / "mint")]
            + ["--lightning", "lnbits", "--lnbits-url", lnbits.url],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "NUTX_LNBITS_KEY": ours.admin_key},
        )
        assert out.returncode == 0, out.stderr
        assert "owed: 600 sat" in out.stdout
        assert "lightning balance: 600 sat (covers what is owed, 0 sat to spare)" in out.stdout
        wallet.close()


def _j(items: list[Any]) -> list[dict[str, Any]]:
    return [i.to_json() for i in items]


async def _stalled_melt(
    lnbits: LNbitsServer, tmp_path: Path, stall: Stall
) -> tuple[str, int, LNbitsWallet, LNbitsWallet, dict[str, Any], list[str], dict[str, Any]]:
    """Fund a wallet, then start a melt through a forwarder that stalls LNbits' pay call, and SIGKILL the
    mint while the melt is in flight. Returns what the test checks afterwards."""
    ours, shop = lnbits.new_wallet(f"mint-{stall.value}"), lnbits.new_wallet(f"shop-{stall.value}")
    lnbits.credit(shop, 5000)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proxy = HoldingProxy(lnbits.port, PAY_REQUEST, stall)
    try:
        with mint_serve(tmp_path, port, proxy.url, ours.admin_key) as proc:
            wallet = Wallet.open(tmp_path / "wallet", mint_url=url)
            await fund(wallet, lnbits, shop, 1000)
            proofs = [p.proof for p in wallet.store.proofs(unit=Unit.SAT)]
            wallet.close()
            bill = lnbits.invoice(shop, 300, "rent")
            async with httpx.AsyncClient(base_url=url, timeout=120) as http:
                quote = (
                    await http.post("/v1/melt/quote/bolt11", json={"request": bill["bolt11"], "unit": "sat"})
                ).json()
                assert quote["fee_reserve"] == 3
                keyset = (await http.get("/v1/keysets")).json()["keysets"][0]["id"]
                blanks = outputs(keyset, [0] * 10)
                body = {"quote": quote["quote"], "inputs": _j(proofs), "outputs": _j(blanks.messages)}
                melt = asyncio.create_task(http.post("/v1/melt/bolt11", json=body))
                await until_async(proxy.triggered.is_set, "the mint's pay call reaching the forwarder")
                if stall == Stall.HOLD_ANSWER:
                    await until_async(
                        lambda: lnbits.paid(shop, bill["payment_hash"]), "LNbits paying the bill"
                    )
                states = (await http.post("/v1/checkstate", json={"Ys": [p.Y for p in proofs]})).json()
                assert {s["state"] for s in states["states"]} == {"PENDING"}
                proc.kill()
                with pytest.raises(httpx.HTTPError):
                    await melt
    finally:
        proxy.close()
    return url, port, ours, shop, bill, [p.Y for p in proofs], quote


async def test_a_mint_killed_while_lnbits_pays_settles_it_on_restart(
    lnbits: LNbitsServer, tmp_path: Path
) -> None:
    """LNbits paid, the mint died before it heard: after the restart the melt is PAID with its change, the
    proofs are spent, the shop was paid once, and no request makes the mint pay it again."""
    url, port, ours, shop, bill, ys, quote = await _stalled_melt(lnbits, tmp_path, Stall.HOLD_ANSWER)
    with mint_serve(tmp_path, port, lnbits.url, ours.admin_key, log="mint-restarted.log"):
        http = httpx.AsyncClient(base_url=url, timeout=60)
        settled = (await http.get(f"/v1/melt/quote/bolt11/{quote['quote']}")).json()
        assert settled["state"] == "PAID"
        assert hashlib.sha256(bytes.fromhex(settled["payment_preimage"])).hexdigest() == bill["payment_hash"]
        assert (
            sum(c["amount"] for c in settled["change"]) == 1000 - 300
        )  # all but the bill: fee reserve unused
        states = (await http.post("/v1/checkstate", json={"Ys": ys})).json()["states"]
        assert {s["state"] for s in states} == {"SPENT"}
        again = await http.post("/v1/melt/quote/bolt11", json={"request": bill["bolt11"], "unit": "sat"})
        assert again.json()["code"] == 20006
        await http.aclose()
    assert lnbits.balance_msat(ours) == (1000 - 300) * 1000
    assert lnbits.balance_msat(shop) == (5000 - 1000 + 300) * 1000
    incoming = [p for p in lnbits.payments(shop) if p["payment_hash"] == bill["payment_hash"]]
    assert [p["status"] for p in incoming] == ["success"]


async def test_a_pay_call_lnbits_never_got_frees_the_proofs_after_a_restart(
    lnbits: LNbitsServer, tmp_path: Path
) -> None:
    """The mint died before its pay call reached LNbits: once the call is surely over (2 × timeout + 5 s) the
    restarted mint frees the proofs, and the same invoice is then paid exactly once."""
    url, port, ours, shop, bill, ys, quote = await _stalled_melt(lnbits, tmp_path, Stall.SWALLOW)
    assert not lnbits.paid(shop, bill["payment_hash"])
    with mint_serve(
        tmp_path, port, lnbits.url, ours.admin_key, "--lightning-timeout", "1", log="mint-again.log"
    ):
        await asyncio.to_thread(
            until,
            lambda: httpx.get(f"{url}/v1/melt/quote/bolt11/{quote['quote']}").json()["state"] == "UNPAID",
            "the restarted mint giving up on the payment LNbits never got",
        )
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            states = (await http.post("/v1/checkstate", json={"Ys": ys})).json()["states"]
        assert {s["state"] for s in states} == {"UNSPENT"}
        wallet = Wallet.open(tmp_path / "wallet", mint_url=url)
        paid = await wallet.withdraw(bill["bolt11"])
        assert (paid["amount"], paid["fee"]) == (300, 0)
        assert wallet.balance().sats == 700
        wallet.close()
    assert lnbits.balance_msat(shop) == (5000 - 1000 + 300) * 1000
    assert lnbits.balance_msat(ours) == 700_000


@contextmanager
def mint_behind_forwarder(
    lnbits: LNbitsServer, tmp_path: Path, stall: Stall, sats: int
) -> Iterator[tuple[Mint, LNbitsWallet, LNbitsWallet, list[Proof]]]:
    """An in-process mainnet mint on LNbits (timeout 1 s) through a forwarder that stalls the pay call, with
    `sats` minted from the shop's LNbits wallet."""
    ours, shop = (
        lnbits.new_wallet(f"mint-{stall.value}-{sats}"),
        lnbits.new_wallet(f"shop-{stall.value}-{sats}"),
    )
    lnbits.credit(shop, 5000)
    proxy = HoldingProxy(lnbits.port, PAY_REQUEST, stall)
    backend = LNbitsBackend(proxy.url, ours.admin_key, "mainnet", 1.0)
    mint = Mint.open(tmp_path / "mint", network="mainnet", lightning=backend)
    try:
        quote = mint.create_mint_quote(sats, "sat")
        assert lnbits.pay(shop, quote["request"]).status_code == 201
        outs = outputs(mint.sat_keyset.id, [sats])
        yield mint, ours, shop, outs.unblind(mint.mint(quote["quote"], outs.messages), mint.sat_keyset)
    finally:
        mint.close()
        proxy.close()


def test_a_timed_out_payment_answers_pending_and_is_settled_later(
    lnbits: LNbitsServer, tmp_path: Path
) -> None:
    """LNbits' answer is held past the backend's timeout: the melt answers PENDING (NUT-05), its proofs stay
    reserved, and reading the quote settles it with its change."""
    with mint_behind_forwarder(lnbits, tmp_path, Stall.HOLD_ANSWER, 64) as (mint, ours, shop, proofs):
        bill = lnbits.invoice(shop, 40, "slow")
        melt = mint.create_melt_quote(bill["bolt11"], "sat")
        assert melt["fee_reserve"] == 2
        answer = mint.melt(melt["quote"], proofs, outputs(mint.sat_keyset.id, [0] * 5).messages)
        assert answer["state"] == "PENDING" and answer["payment_preimage"] is None
        assert {s["state"] for s in mint.check_state([p.Y for p in proofs])} == {"PENDING"}
        with pytest.raises(MintError) as info:
            mint.melt(melt["quote"], proofs, [])
        assert info.value.name == "quote-pending"
        settled = mint.melt_quote(melt["quote"])  # a fresh connection: LNbits says paid
        assert settled["state"] == "PAID" and sum(c["amount"] for c in settled["change"]) == 64 - 40
        assert {s["state"] for s in mint.check_state([p.Y for p in proofs])} == {"SPENT"}
        assert lnbits.balance_msat(ours) == (64 - 40) * 1000


def test_an_unknown_payment_stays_pending_until_its_call_is_surely_over(
    lnbits: LNbitsServer, tmp_path: Path
) -> None:
    """LNbits has no record of the payment (the pay call was lost): PENDING while the call might still
    arrive, then the proofs are freed. The elapsed time is the pending row's age."""
    with mint_behind_forwarder(lnbits, tmp_path, Stall.SWALLOW, 16) as (mint, _, shop, proofs):
        bill = lnbits.invoice(shop, 10, "lost")
        melt = mint.create_melt_quote(bill["bolt11"], "sat")
        assert mint.melt(melt["quote"], proofs, [])["state"] == "PENDING"
        assert mint.melt_quote(melt["quote"])["state"] == "PENDING"  # LNbits: 404, but the call is recent
        mint.store.db.conn.execute("UPDATE pending SET created_at = created_at - 60")
        assert mint.melt_quote(melt["quote"])["state"] == "UNPAID"
        assert {s["state"] for s in mint.check_state([p.Y for p in proofs])} == {"UNSPENT"}
        assert not lnbits.paid(shop, bill["payment_hash"])


def test_lnbits_refusals(lnbits: LNbitsServer, tmp_path: Path) -> None:
    """A wrong key and an LNbits that is down are one-line errors (lightning-unavailable); a bcrt invoice is
    not a mainnet one."""
    wrong = Mint.open(
        tmp_path / "a", network="mainnet", lightning=LNbitsBackend(lnbits.url, "not-a-key", "mainnet", 5.0)
    )
    with pytest.raises(MintError) as info:
        wrong.create_mint_quote(10, "sat")
    assert info.value.name == "lightning-unavailable" and "HTTP 404 Wallet not found" in str(info.value)
    wrong.close()
    down = Mint.open(
        tmp_path / "b",
        network="mainnet",
        lightning=LNbitsBackend(f"http://127.0.0.1:{free_port()}", "k", "mainnet", 5.0),
    )
    with pytest.raises(MintError) as info:
        down.create_mint_quote(10, "sat")
    assert info.value.name == "lightning-unavailable" and "cannot reach LNbits" in str(info.value)
    with pytest.raises(MintError, match="invoice is for 'bcrt', this mint runs on mainnet"):
        down.create_melt_quote(_regtest_invoice(), "sat")
    down.close()
    args = [
        "mint",
        "serve",
        "--data-dir",
        str(tmp_path / "c"),
        "--network",
        "mainnet",
        "--lightning",
        "lnbits",
    ]
    refused = subprocess.run(
        [sys.executable, "-m", "nutx_cli", *args, "--lnbits-url", lnbits.url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "NUTX_LNBITS_KEY": "not-a-key"},
    )
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines() == [
        "error: the lnbits backend cannot be used: LNbits refused GET /api/v1/wallet: HTTP 404 Wallet not found."
    ]


def _regtest_invoice() -> str:
    from nutx_cli.mint.lightning import FakeBackend

    return FakeBackend().create_invoice(1000, "x", 60).request

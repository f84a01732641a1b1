"""The mint's HTTP API on a real server on a free loopback port: shapes, errors, concurrent double spends."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from nutx_cli.core.keysets import amount_split
from nutx_cli.mint import Mint
from tests.helpers.mint import (
    EPOCH_KEYS,
    HeldPayments,
    ServerThread,
    mine_shares,
    mint_sats,
    open_epoch,
    outputs,
    won_epoch,
)
from tests.helpers.procs import free_port, nutx_process, port_open


def j(objs: list[Any]) -> list[dict[str, Any]]:
    return [o.to_json() for o in objs]


def test_info_keys_and_mining_endpoints(served_mint: tuple[Mint, ServerThread]) -> None:
    mint, server = served_mint
    e = open_epoch(mint)
    ehash = mint.ehash_keyset(e).id
    with httpx.Client(base_url=server.url) as http:
        info = http.get("/v1/info").json()
        assert info["nuts"]["4"]["methods"][0]["unit"] == "sat" and info["nuts"]["12"] == {"supported": True}
        keysets = http.get("/v1/keysets").json()["keysets"]
        assert keysets == [
            {
                "id": mint.sat_keyset.id,
                "unit": "sat",
                "active": True,
                "input_fee_ppk": 0,
                "final_expiry": None,
            }
        ]
        keys = http.get("/v1/keys").json()["keysets"]
        assert (
            len(keys) == 1
            and keys[0]["keys"]["9223372036854775808"] == mint.sat_keyset.public_keys[2**63].hex()
        )
        assert http.get(f"/v1/keys/{ehash}").json()["keysets"][0]["unit"] == "ehash"
        missing = http.get("/v1/keys/" + "01" + "ab" * 32)
        assert missing.status_code == 400 and missing.json()["code"] == 12001
        assert http.get("/v1/mining/keysets").json()["keysets"][0]["id"] == ehash
        epochs = http.get("/v1/mining/epochs").json()["epochs"]
        assert epochs[0]["epoch"] == e and epochs[0]["status"] == "open" and epochs[0]["price"] is None
        assert set(epochs[0]) == set(EPOCH_KEYS)
        assert http.get(f"/v1/mining/epochs/{e}").json() == epochs[0]
        assert http.get("/v1/mining/epochs/99").json()["code"] == 41012


def test_sat_flow_and_error_shapes(served_mint: tuple[Mint, ServerThread]) -> None:
    mint, server = served_mint
    sat = mint.sat_keyset.id
    with httpx.Client(base_url=server.url) as http:
        quote = http.post(
            "/v1/mint/quote/bolt11", json={"amount": 13, "unit": "sat", "description": None}
        ).json()
        assert quote["method"] == "bolt11" and quote["state"] == "UNPAID"
        assert http.get(f"/v1/mint/quote/bolt11/{quote['quote']}").json()["state"] == "PAID"
        outs = outputs(sat, amount_split(13))
        sigs = http.post(
            "/v1/mint/bolt11", json={"quote": quote["quote"], "outputs": j(outs.messages)}
        ).json()
        from nutx_cli.core.models import BlindSignature

        proofs = outs.unblind([BlindSignature.from_json(s) for s in sigs["signatures"]], mint.sat_keyset)
        inputs = [{**p.to_json(), "witness": None} for p in proofs]
        new = outputs(sat, [1, 4, 8])
        swapped = http.post("/v1/swap", json={"inputs": inputs, "outputs": j(new.messages)})
        assert swapped.status_code == 200 and [s["amount"] for s in swapped.json()["signatures"]] == [1, 4, 8]
        assert all("dleq" in s for s in swapped.json()["signatures"])
        states = http.post("/v1/checkstate", json={"Ys": [p.Y for p in proofs]}).json()["states"]
        assert [s["state"] for s in states] == ["SPENT"] * 3 and states[0]["Y"] == proofs[0].Y
        restored = http.post("/v1/restore", json={"outputs": j(new.messages)}).json()
        assert restored["signatures"] == swapped.json()["signatures"]
        again = http.post("/v1/swap", json={"inputs": inputs, "outputs": j(outputs(sat, [1, 4, 8]).messages)})
        assert again.status_code == 400 and again.json()["code"] == 11001 and again.json()["detail"]
        cases: list[tuple[Any, int]] = [
            ("not json", 41009),
            ({"inputs": "x", "outputs": []}, 41009),
            ({"inputs": [{**inputs[0], "C": "02" + "00" * 32}], "outputs": j(new.messages)}, 10001),
            ({"inputs": inputs, "outputs": [{"amount": 1, "id": sat, "B_": "04" + "11" * 32}]}, 41008),
            ({"inputs": inputs * 334, "outputs": []}, 11014),
            ({"inputs": inputs, "outputs": [o.to_json() for o in outputs(sat, [1] * 1001).messages]}, 11015),
        ]
        for body, code in cases:
            kwargs = {"content": body} if isinstance(body, str) else {"json": body}
            r = http.post("/v1/swap", **kwargs)  # type: ignore[arg-type]
            assert (r.status_code, r.json()["code"]) == (400, code), (
                body if isinstance(body, str) else code,
                r.text,
            )
        melt_req = mint.lightning.create_invoice(5000, "x", 60).request
        mq = http.post("/v1/melt/quote/bolt11", json={"request": melt_req, "unit": "sat"}).json()
        assert mq["amount"] == 5 and mq["expiry"] and mq["state"] == "UNPAID"
        assert http.get(f"/v1/melt/quote/bolt11/{mq['quote']}").json()["quote"] == mq["quote"]
        fresh = [
            {**p.to_json()}
            for p in new.unblind(
                [BlindSignature.from_json(s) for s in swapped.json()["signatures"]], mint.sat_keyset
            )
        ]
        blanks = [{**o.to_json(), "amount": 0} for o in outputs(sat, [1, 1, 1]).messages]
        melted = http.post("/v1/melt/bolt11", json={"quote": mq["quote"], "inputs": fresh, "outputs": blanks})
        assert melted.status_code == 200, melted.text
        assert (
            melted.json()["state"] == "PAID" and sum(c["amount"] for c in melted.json()["change"]) == 13 - 5
        )


async def test_concurrent_double_spends(served_mint: tuple[Mint, ServerThread]) -> None:
    """50 concurrent requests spend the same proofs: exactly one succeeds, the rest get spent/pending."""
    mint, server = served_mint
    sat = mint.sat_keyset.id
    proofs = mint_sats(mint, 100)
    e = open_epoch(mint)
    ehash = await mine_shares(mint, [1, 2, 4, 8, 16, 32, 64])  # W_e = 127
    won_epoch(mint, e, theta_b=1270)
    before = mint.liabilities()
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        swaps = [
            http.post(
                "/v1/swap", json={"inputs": j(proofs), "outputs": j(outputs(sat, amount_split(100)).messages)}
            )
            for _ in range(50)
        ]
        results = await asyncio.gather(*swaps)
        assert sum(r.status_code == 200 for r in results) == 1
        assert {r.json()["code"] for r in results if r.status_code != 200} <= {11001, 11002}
        assert mint.liabilities() == before
        ehash_id = mint.ehash_keyset(e).id
        mixed = [
            http.post(
                "/v1/mining/redeem",
                json={"inputs": j(ehash), "outputs": j(outputs(sat, amount_split(1270)).messages)},
            )
            if i % 2
            else http.post(
                "/v1/swap",
                json={"inputs": j(ehash), "outputs": j(outputs(ehash_id, [64, 32, 16, 8, 4, 2, 1]).messages)},
            )
            for i in range(50)
        ]
        results = await asyncio.gather(*mixed)
        assert sum(r.status_code == 200 for r in results) == 1, [
            r.text for r in results if r.status_code == 200
        ]
        assert {r.json()["code"] for r in results if r.status_code != 200} <= {11001, 11002}
    paid = mint.epoch(e).paid
    assert paid in (0, 1270)
    assert mint.liabilities()["sat"] == before["sat"] + paid
    assert mint.liabilities()["ehash"] == before["ehash"] - (127 if paid else 0)


async def test_one_invoice_is_paid_once_under_concurrent_melts(tmp_path: Path) -> None:
    """20 melt quotes for one invoice, melted at once over HTTP while the first payment is still in flight:
    one pays, the others are refused and keep their proofs."""
    backend = HeldPayments()
    mint = Mint.open(tmp_path / "mint", lightning=backend)
    server = ServerThread(mint)
    invoice = backend.create_invoice(5000, "once", 600).request
    n = 20
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            quote = {"request": invoice, "unit": "sat"}
            quotes = [(await http.post("/v1/melt/quote/bolt11", json=quote)).json() for _ in range(n)]
            wallets = [mint_sats(mint, q["amount"] + q["fee_reserve"]) for q in quotes]
            melts = [
                asyncio.create_task(http.post("/v1/melt/bolt11", json={"quote": q["quote"], "inputs": j(p)}))
                for q, p in zip(quotes, wallets, strict=True)
            ]
            await backend.until(lambda: backend.in_flight + sum(m.done() for m in melts) == n)
            backend.release.set()
            results = await asyncio.gather(*melts)
            paid = [i for i, r in enumerate(results) if r.status_code == 200]
            assert len(paid) == 1, f"{len(paid)} of {n} melts of one invoice paid"
            assert {r.json()["code"] for r in results if r.status_code != 200} == {20005}
            for i, proofs in enumerate(wallets):
                checked = await http.post("/v1/checkstate", json={"Ys": [p.Y for p in proofs]})
                states = checked.json()["states"]
                assert {s["state"] for s in states} == {"SPENT" if i in paid else "UNSPENT"}
            other = (paid[0] + 1) % n
            late = await http.post(
                "/v1/melt/bolt11", json={"quote": quotes[other]["quote"], "inputs": j(wallets[other])}
            )
            assert (late.status_code, late.json()["code"]) == (400, 20006)
    finally:
        server.stop()
        mint.close()


@pytest.mark.e2e
def test_mint_serve_process_and_info(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "mint"
    with nutx_process(
        ["mint", "serve", "--data-dir", str(data), "--http-port", str(port)],
        tmp_path / "serve.log",
        ready=lambda: port_open(port),
    ) as proc:
        r = httpx.get(f"http://127.0.0.1:{port}/v1/keysets")
        assert r.status_code == 200 and r.json()["keysets"][0]["unit"] == "sat"
        quote = httpx.post(
            f"http://127.0.0.1:{port}/v1/mint/quote/bolt11", json={"amount": 5, "unit": "sat"}
        ).json()
        assert quote["request"].startswith("lnbcrt")
        assert proc.stop() == 0
    out = subprocess.run(
        [sys.executable, "-m", "nutx_cli", "mint", "info", "--data-dir", str(data), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["liabilities"] == {"sat": 0, "ehash": 0} and summary["keysets"][0]["unit"] == "sat"
    text = subprocess.run(
        [sys.executable, "-m", "nutx_cli", "mint", "info", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "outstanding: 0 sat, 0 ehash" in text.stdout
    for flags, says in [
        ([], "a mainnet mint pays real sats and needs a real Lightning backend: pass --lightning lnbits"),
        (["--lightning", "fake"], "only runs on regtest, not mainnet"),
        (["--lightning", "lnbits"], "--lightning lnbits needs --lnbits-url URL and --lnbits-key ADMIN_KEY"),
        (["--lightning", "moon"], "--lightning 'moon' is not a backend; use one of fake, lnbits, lnd, none"),
    ]:
        cmd = ["mint", "serve", "--data-dir", str(tmp_path / "x"), "--network", "mainnet", *flags]
        refused = subprocess.run(
            [sys.executable, "-m", "nutx_cli", *cmd], capture_output=True, text=True, timeout=60, check=False
        )
        assert refused.returncode == 1 and says in refused.stderr and "Traceback" not in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()

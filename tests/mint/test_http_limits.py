"""The mint HTTP API's limits on a real `nutx mint serve` process: body cap 413, per-IP rate limit 429,
both with a Cashu error body; reads and lookups are never rate-limited; another address has its own budget."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nutx_cli.wallet.client import MintClient, MintRefused
from tests.helpers.procs import free_port, nutx_process, port_open

pytestmark = pytest.mark.e2e

MAX_BODY = 20_000
BURST = 3


@pytest.fixture
def mint_url(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    flags = ["--max-body-bytes", str(MAX_BODY), "--rate-limit", "60", "--rate-limit-burst", str(BURST)]
    with nutx_process(
        ["mint", "serve", "--data-dir", str(tmp_path / "mint"), "--http-port", str(port), *flags],
        tmp_path / "serve.log",
        ready=lambda: port_open(port),
    ) as proc:
        yield f"http://127.0.0.1:{port}"
        assert "Traceback" not in proc.output()


def ys_body(size: int) -> bytes:
    """A /v1/checkstate body of about `size` bytes."""
    body = json.dumps({"Ys": ["02" + "ab" * 32] * (size // 70)}).encode()
    return body + b" " * (size - len(body))


def test_a_body_over_the_cap_is_answered_413_with_a_cashu_error(mint_url: str) -> None:
    with httpx.Client(base_url=mint_url, timeout=20) as http:
        fits = http.post(
            "/v1/checkstate", content=ys_body(MAX_BODY), headers={"content-type": "application/json"}
        )
        assert fits.status_code == 200, fits.text
        over = http.post("/v1/checkstate", content=ys_body(MAX_BODY + 1))
        assert over.status_code == 413
        assert over.json() == {"detail": f"the request body is over {MAX_BODY} bytes", "code": 41413}
        chunked = http.post("/v1/checkstate", content=iter([ys_body(MAX_BODY // 2)] * 3))  # no length given
        assert "content-length" not in chunked.request.headers
        assert (chunked.status_code, chunked.json()["code"]) == (413, 41413)
        assert http.get("/v1/info").status_code == 200  # the server serves on


def test_work_requests_past_the_rate_are_answered_429_per_address(mint_url: str) -> None:
    empty: dict[str, list[object]] = {"inputs": [], "outputs": []}
    with httpx.Client(base_url=mint_url, timeout=20) as http:
        for _ in range(3 * BURST):  # reads and lookups are not limited
            assert http.get("/v1/keysets").status_code == 200
            assert http.post("/v1/checkstate", json={"Ys": []}).status_code == 200
        answers = [http.post("/v1/swap", json=empty) for _ in range(BURST)]
        assert {r.status_code for r in answers} == {400}  # refused by the mint, but served
        limited = http.post("/v1/swap", json=empty)
        assert limited.status_code == 429
        assert limited.json()["code"] == 41429 and "requests a minute" in limited.json()["detail"]
        assert int(limited.headers["retry-after"]) >= 1
        assert http.post("/v1/mining/redeem", json=empty).status_code == 429  # one budget for all work
        assert http.post("/v1/mint/quote/bolt11", json={"amount": 1, "unit": "sat"}).status_code == 429
        assert http.get("/v1/info").status_code == 200
    elsewhere = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=mint_url, timeout=20, transport=elsewhere) as other:
        assert other.post("/v1/swap", json=empty).status_code == 400  # another address, its own budget

    async def wallet_swap() -> None:
        async with MintClient(mint_url) as wallet:
            await wallet.swap([], [])

    with pytest.raises(MintRefused) as refused:  # the wallet reports the mint's refusal, by name
        asyncio.run(wallet_swap())
    assert refused.value.name == "rate-limited"

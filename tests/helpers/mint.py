"""A minimal test wallet for the mint tests (blind outputs, unblind signatures, get sats and ehash), and
the mint's HTTP API served from a thread on a free loopback port."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nutx_cli.core import bdhke
from nutx_cli.core.keysets import Keyset, amount_split
from nutx_cli.core.limits import HttpLimits
from nutx_cli.core.models import BlindedMessage, BlindSignature, Proof
from nutx_cli.mint import Mint, create_app
from nutx_cli.mint.http import serve_app
from nutx_cli.mint.lightning import FakeBackend, Invoice, Payment, PaymentStatus
from tests.helpers.procs import free_port, port_open

EPOCH_KEYS = [
    "epoch",
    "status",
    "keyset_id",
    "k_max",
    "started_at",
    "ended_at",
    "height",
    "block_hash",
    "work",
    "work_by_amount",
    "theta_b",
    "mint_fee",
    "theta_c",
    "price",
    "confirmations",
    "paid",
]
"""The keys of the EPOCH JSON, in the order of DESIGN §5."""


def wire(objs: Sequence[BlindedMessage | BlindSignature | Proof]) -> list[dict[str, Any]]:
    """Cashu objects in their JSON form, for a request body."""
    return [o.to_json() for o in objs]


def random_r() -> bytes:
    while True:
        r = secrets.token_bytes(32)
        if 0 < int.from_bytes(r, "big") < bdhke.CURVE_ORDER:
            return r


@dataclass
class Outputs:
    """Blinded outputs with the secrets and blinding factors needed to unblind their signatures."""

    messages: list[BlindedMessage]
    secrets: list[str]
    rs: list[bytes]

    def unblind(self, sigs: Sequence[BlindSignature], keyset: Keyset) -> list[Proof]:
        proofs = []
        for sig, secret, r, msg in zip(sigs, self.secrets, self.rs, self.messages, strict=True):
            K = keyset.public_keys[sig.amount]
            blind = sig.blind_sig()
            assert bdhke.verify_blind_dleq(K, bytes.fromhex(msg.B_), blind.C_, blind.e, blind.s)
            C = bdhke.unblind(blind.C_, r, K)
            proofs.append(Proof(sig.amount, sig.id, secret, C.hex()))
        return proofs


def outputs(keyset_id: str, amounts: Sequence[int], secrets_: Sequence[str] | None = None) -> Outputs:
    """Blinded outputs for `amounts`, with random secrets unless `secrets_` names them (e.g. locked ones)."""
    secrets_ = list(secrets_) if secrets_ is not None else [secrets.token_hex(32) for _ in amounts]
    rs = [random_r() for _ in amounts]
    msgs = [
        BlindedMessage(a, keyset_id, bdhke.blind(s, r).hex())
        for a, s, r in zip(amounts, secrets_, rs, strict=True)
    ]
    return Outputs(msgs, secrets_, rs)


def mint_sats(mint: Mint, amount: int, secrets_: Sequence[str] | None = None) -> list[Proof]:
    """Proofs worth `amount` sats (one per power of two), with `secrets_` if given."""
    quote = mint.create_mint_quote(amount, "sat")
    assert mint.mint_quote(quote["quote"])["state"] == "PAID"
    outs = outputs(mint.sat_keyset.id, amount_split(amount), secrets_)
    return outs.unblind(mint.mint(quote["quote"], outs.messages), mint.sat_keyset)


async def mine_shares(
    mint: Mint, amounts: Sequence[int], secrets_: Sequence[str] | None = None
) -> list[Proof]:
    """Sign one share per amount in the open epoch and unblind them into ehash proofs (with `secrets_`)."""
    epoch = mint.current_epoch()
    assert epoch is not None
    keyset = mint.keyset(epoch.keyset_id)
    outs = outputs(keyset.id, amounts, secrets_)
    sigs = await asyncio.gather(
        *(
            mint.sign_share(keyset_id=keyset.id, amount=m.amount, B_=bytes.fromhex(m.B_))
            for m in outs.messages
        )
    )
    models = [BlindSignature.of(s, m.amount, keyset.id) for m, s in zip(outs.messages, sigs, strict=True)]
    return outs.unblind(models, keyset)


def won_epoch(mint: Mint, epoch: int, theta_b: int, *, mature: bool = True) -> None:
    mint.close_epoch_won(epoch, theta_b=theta_b, block_hash="ab" * 32, height=epoch + 100, now=1_700_000_100)
    if mature:
        mint.set_confirmations(epoch, 2, maturity=2)


def open_epoch(mint: Mint) -> int:
    n = len(mint.epochs()) + 1
    return mint.open_epoch(tip_hash=f"{n:064x}", height=n + 99, now=1_700_000_000).epoch


class HeldPayments(FakeBackend):
    """The fake backend, but every payment waits for `release`: melts stay in flight while others arrive."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.in_flight = 0
        self._count = threading.Lock()

    def pay(self, invoice: Invoice, fee_limit_msat: int) -> Payment:
        with self._count:
            self.in_flight += 1
        if not self.release.wait(60):
            return Payment(PaymentStatus.FAILED, error="the test never released the payment")
        return super().pay(invoice, fee_limit_msat)

    @staticmethod
    async def until(condition: Callable[[], bool]) -> None:
        """Wait (on the event loop) until `condition` holds; fail after a generous bound."""
        for _ in range(6000):
            if condition():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the condition never held")


UNLIMITED_RATE = HttpLimits(requests_per_minute=0)
"""Tests of the mint's behaviour fire many requests at once from 127.0.0.1; the rate limit has its own tests."""


class ServerThread:
    """`serve_app` on its own event loop in a thread, so the test can drive the Mint directly too."""

    def __init__(self, mint: Mint, limits: HttpLimits = UNLIMITED_RATE) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(
            target=self._loop.run_until_complete,
            args=(serve_app(create_app(mint, limits), "127.0.0.1", self.port, self._stop),),
        )
        self._thread.start()
        for _ in range(200):
            if port_open(self.port):
                return
            threading.Event().wait(0.025)
        raise AssertionError("mint HTTP server did not start")

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._loop.close()


@contextmanager
def served(data_dir: Path, database: str | None = None) -> Iterator[tuple[Mint, ServerThread]]:
    """A mint in `data_dir` (or on `database`) and its HTTP API, both closed at the end."""
    mint = Mint.open(data_dir, database=database)
    server = ServerThread(mint)
    try:
        yield mint, server
    finally:
        server.stop()
        mint.close()

"""The `Mint` front: one data dir's mint, composed of one part per concept (no logic of its own).

`Mint.open` checks the data dir (network, seed) and wires the parts on one store: keysets, epochs,
share signing, input and output checks, swap and redeem, proof states and restore, mint quotes,
melts, and the summaries. The pool and the HTTP API call only the methods here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nutx_cli.core import bdhke
from nutx_cli.core.epoch_json import Epoch
from nutx_cli.core.keysets import Keyset
from nutx_cli.core.models import BlindedMessage, BlindSignature, Proof
from nutx_cli.core.networks import rules
from nutx_cli.errors import NutxError
from nutx_cli.mint import info, restore
from nutx_cli.mint.epochs import MintEpochs
from nutx_cli.mint.inputs import Inputs
from nutx_cli.mint.keysets import MintKeysets
from nutx_cli.mint.lightning import FakeBackend, LightningBackend, NoLightning
from nutx_cli.mint.melt import SETTLE_EVERY_S, Melts
from nutx_cli.mint.mint_quotes import MintQuotes
from nutx_cli.mint.outputs import Outputs
from nutx_cli.mint.shares import ShareSigning
from nutx_cli.mint.store import DB_NAME, MintStore
from nutx_cli.mint.swap import Swaps
from nutx_cli.private_files import private_dir

log = logging.getLogger(__name__)


class Mint:
    """A Cashu mint with `sat` and per-epoch `ehash` keysets; one instance per data dir."""

    def __init__(
        self, store: MintStore, seed: bytes, network: str, mint_fee: int, lightning: LightningBackend
    ) -> None:
        self.store = store
        self.network = network
        self.k_max = rules(network).k_max
        self.pubkey = bdhke.public_key(hashlib.sha256(b"nutx/mint-pubkey" + seed).digest()).hex()
        self._keysets = MintKeysets(store, seed, int(time.time()))
        self.sat_keyset = self._keysets.sat
        self._epochs = MintEpochs(store, self._keysets, self.k_max, mint_fee)
        self._shares = ShareSigning(store, self._keysets)
        inputs = Inputs(store, self._keysets)
        outputs = Outputs(store, self._keysets, self._epochs)
        self._swaps = Swaps(store, self._keysets, self._epochs, inputs, outputs)
        self._mint_quotes = MintQuotes(store, outputs, lightning)
        self._melts = Melts(store, self._keysets, inputs, outputs, lightning)
        self._melts.settle_pending()

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        network: str = "regtest",
        mint_fee: int = 0,
        lightning: LightningBackend | None = None,
    ) -> Mint:
        """Create or reopen the mint in `data_dir`: same seed, same keysets after a restart.

        Without a `lightning` backend, regtest gets the fake one; other networks must say which they use
        (`NoLightning` for none)."""
        if mint_fee < 0:
            raise NutxError(f"--mint-fee must be ≥ 0 sats, got {mint_fee}")
        net = rules(network)
        if lightning is None:
            if not net.fake_lightning:
                raise NutxError(f"no Lightning backend for {network}: the fake backend runs on regtest only")
            lightning = FakeBackend(network)
        if lightning.network != network or (isinstance(lightning, FakeBackend) and not net.fake_lightning):
            raise NutxError(f"the Lightning backend is for {lightning.network}, the mint runs on {network}")
        private_dir(data_dir)
        store = MintStore.in_dir(data_dir)
        try:
            with store.transaction():
                stored_network = store.meta("network")
                if stored_network is None:
                    store.set_meta("network", network)
                    store.set_meta("seed", secrets.token_bytes(32).hex())
                elif stored_network != network:
                    raise NutxError(
                        f"{data_dir} holds a {stored_network} mint, not {network}; use another --data-dir"
                    )
                seed = bytes.fromhex(store.meta("seed") or "")
            return cls(store, seed, network, mint_fee, lightning)
        except BaseException:
            store.close()
            raise

    @staticmethod
    def network_of(data_dir: Path) -> str:
        """The network an existing mint's data dir was made for."""
        if not (data_dir / DB_NAME).exists():
            raise NutxError(f"no mint database in {data_dir}; pass --data-dir of a mint or pool")
        store = MintStore.in_dir(data_dir)
        try:
            return store.meta("network") or "regtest"
        finally:
            store.close()

    @classmethod
    def open_to_read(cls, data_dir: Path) -> Mint:
        """An existing mint's data dir on the network it was made for, with no Lightning (`nutx mint info`):
        it pays nothing and leaves PENDING melts to the mint that serves them."""
        network = cls.network_of(data_dir)
        return cls.open(data_dir, network=network, lightning=NoLightning(network))

    def close(self) -> None:
        self.store.close()

    @property
    def lightning(self) -> LightningBackend:
        return self._melts.lightning

    @lightning.setter
    def lightning(self, backend: LightningBackend) -> None:
        self._mint_quotes.lightning = self._melts.lightning = backend

    async def settle_melts(self, stop: asyncio.Event, every_s: float = SETTLE_EVERY_S) -> None:
        """Until `stop`: every `every_s`, settle PENDING melts whose outcome the backend now knows."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)
            if stop.is_set():
                return
            try:
                await asyncio.to_thread(self._melts.settle_pending)
            except NutxError as exc:
                log.warning("settling pending melts failed (tried again in %.0f s): %s", every_s, exc)

    # -- keysets ------------------------------------------------------------------------------

    def keyset(self, keyset_id: str) -> Keyset:
        """A keyset by full id (or the 16-hex short id of a v2 id)."""
        return self._keysets.get(keyset_id)

    def ehash_keyset(self, epoch: int) -> Keyset:
        return self._keysets.get(self.epoch(epoch).keyset_id)

    def keysets_json(self) -> dict[str, Any]:
        return self._keysets.keysets_json()

    def keys_json(self, keyset_id: str | None = None) -> dict[str, Any]:
        return self._keysets.keys_json(keyset_id)

    def mining_keysets_json(self) -> dict[str, Any]:
        return self._keysets.mining_keysets_json(self._epochs.all())

    def info_json(self) -> dict[str, Any]:
        return info.info_json(
            self.pubkey, self.network, lightning=not isinstance(self.lightning, NoLightning)
        )

    # -- epochs -------------------------------------------------------------------------------

    def epoch(self, n: int) -> Epoch:
        return self._epochs.get(n)

    def epochs(self) -> list[Epoch]:
        """All epochs, newest first."""
        return self._epochs.all()

    def current_epoch(self) -> Epoch | None:
        return self._epochs.current()

    def epoch_start(self, n: int) -> tuple[str, int]:
        """(hash, height) of the tip epoch `n` started at."""
        return self._epochs.start_tip(n)

    def open_epoch(self, *, tip_hash: str, height: int, now: int) -> Epoch:
        return self._epochs.open(tip_hash=tip_hash, height=height, now=now)

    def close_epoch_won(self, epoch: int, *, theta_b: int, block_hash: str, height: int, now: int) -> Epoch:
        return self._epochs.close_won(epoch, theta_b=theta_b, block_hash=block_hash, height=height, now=now)

    def close_epoch_lost(self, epoch: int, *, height: int, now: int) -> Epoch:
        return self._epochs.close_lost(epoch, height=height, now=now)

    def set_confirmations(self, epoch: int, confirmations: int, *, maturity: int) -> Epoch:
        return self._epochs.set_confirmations(epoch, confirmations, maturity=maturity)

    def mark_orphaned(self, epoch: int) -> Epoch:
        return self._epochs.mark_orphaned(epoch)

    def skip_epochs(self, through: int) -> None:
        self._epochs.skip_through(through)

    # -- share signing ------------------------------------------------------------------------

    async def sign_share(self, *, keyset_id: str, amount: int, B_: bytes) -> bdhke.BlindSig:
        return await self._shares.sign(keyset_id=keyset_id, amount=amount, B_=B_)

    def sign_share_nowait(self, *, keyset_id: str, amount: int, B_: bytes) -> asyncio.Future[bdhke.BlindSig]:
        return self._shares.sign_nowait(keyset_id=keyset_id, amount=amount, B_=B_)

    # -- moving ecash -------------------------------------------------------------------------

    def swap(self, inputs: Sequence[Proof], outputs: Sequence[BlindedMessage]) -> list[BlindSignature]:
        return self._swaps.swap(inputs, outputs)

    def redeem(self, inputs: Sequence[Proof], outputs: Sequence[BlindedMessage]) -> list[BlindSignature]:
        return self._swaps.redeem(inputs, outputs)

    def check_state(self, ys: Sequence[str]) -> list[dict[str, Any]]:
        return restore.check_state(self.store, ys)

    def restore(self, outputs: Sequence[BlindedMessage]) -> tuple[list[BlindedMessage], list[BlindSignature]]:
        return restore.restore(self.store, outputs)

    # -- Lightning ----------------------------------------------------------------------------

    def create_mint_quote(
        self, amount: int, unit: str, description: str | None = None, pubkey: str | None = None
    ) -> dict[str, Any]:
        return self._mint_quotes.create(amount, unit, description, pubkey)

    def mint_quote(self, quote: str) -> dict[str, Any]:
        return self._mint_quotes.get(quote)

    def mint(
        self, quote: str, outputs: Sequence[BlindedMessage], signature: str | None = None
    ) -> list[BlindSignature]:
        return self._mint_quotes.mint(quote, outputs, signature)

    def create_melt_quote(self, request: str, unit: str) -> dict[str, Any]:
        return self._melts.create(request, unit)

    def melt_quote(self, quote: str) -> dict[str, Any]:
        return self._melts.get(quote)

    def melt(
        self, quote: str, inputs: Sequence[Proof], outputs: Sequence[BlindedMessage] = ()
    ) -> dict[str, Any]:
        return self._melts.melt(quote, inputs, outputs)

    # -- summaries ----------------------------------------------------------------------------

    def liabilities(self) -> dict[str, int]:
        return info.liabilities(self.store, self._keysets)

    def summary_json(self, lightning_balance_msat: int | None = None) -> dict[str, Any]:
        """What `nutx mint info` prints; `lightning_balance_msat` is what the operator's backend reports."""
        return info.summary_json(
            self.network, self.store, self._keysets, self._epochs, lightning_balance_msat
        )

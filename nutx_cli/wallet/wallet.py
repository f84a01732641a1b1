"""The wallet's front: one wallet dir (its store, seed and mint), wired to the modules that do the work.

`Wallet` is what the CPU miner, the SV1 proxy and `nutx wallet …` use (README "The wallet"); each
concept lives in its own module and this class only opens the wallet, holds the mint connection of
an operation, and hands the call on:

- `outputs`: blinded outputs from the seed's counters, unblinding and DLEQ checks (evidence kept);
- `keysets`: the mint's keysets, keys checked against their ids, input fees;
- `inputs`: coin selection, spending proofs (pending first, settled with NUT-07), swaps;
- `shares`: the miner's and the proxy's shares (prepare, complete, fail, recover pending);
- `epochs`: epoch statuses and prices, dropping lost and orphaned epochs;
- `redeem`, `lightning`, `tokens`, `restore`: the operations of the same names;
- `claims`: minting what was mined under this wallet's claim key (DESIGN §4 "Claimed ehash");
- `pool_redeem`: the wallet's pool (remembered from the miner) and redeeming over SV2 there;
- `balance`: balance and listing from the store alone.

Nothing is lost to a crash: counters advance on disk before outputs are sent (`outputs`), a share's
secret is stored before it is submitted (`shares`), inputs are pending before a request (`inputs`).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from fractions import Fraction
from pathlib import Path

from nutx_cli.core import nut13
from nutx_cli.core.bdhke import BlindSig
from nutx_cli.core.claims import claim_pubkey, claim_secret
from nutx_cli.core.epoch_status import EpochStatus
from nutx_cli.core.models import Proof
from nutx_cli.core.vocabulary import Unit
from nutx_cli.errors import NutxError
from nutx_cli.local import DEFAULT_HTTP_PORT, read_pool_json
from nutx_cli.private_files import private_dir
from nutx_cli.wallet.balance import WalletBalance, WalletListing, balance_of, listing_of
from nutx_cli.wallet.claims import Claimed, Claimer
from nutx_cli.wallet.client import MintClient
from nutx_cli.wallet.epochs import Epochs
from nutx_cli.wallet.errors import WalletError
from nutx_cli.wallet.inputs import Inputs
from nutx_cli.wallet.keysets import Keysets
from nutx_cli.wallet.lightning import Invoice, Lightning, Withdrawal
from nutx_cli.wallet.outputs import Outputs
from nutx_cli.wallet.pool_redeem import PoolAddress, PoolRedeem, Sv2Redeemer
from nutx_cli.wallet.redeem import Progress, Redeemer
from nutx_cli.wallet.restore import Restorer, RestoreReport
from nutx_cli.wallet.shares import PreparedShare, Shares
from nutx_cli.wallet.store import DB_NAME, WalletStore
from nutx_cli.wallet.tokens import Received, Tokens

log = logging.getLogger(__name__)


def default_mint_url() -> str:
    """The local pool's mint (pool.json `http`), else the default mint port on this machine."""
    try:
        return read_pool_json().http
    except NutxError:
        return f"http://127.0.0.1:{DEFAULT_HTTP_PORT}"


class Wallet:
    """One wallet dir: its store, its seed and the mint it belongs to."""

    def __init__(self, store: WalletStore, seed: bytes, mint_url: str) -> None:
        self.store = store
        self._seed = seed
        self._claim_secret = claim_secret(seed)
        self.claim_pubkey = claim_pubkey(self._claim_secret)
        """The wallet's Cashu public key for claimed ehash (`nutx wallet pubkey`): the same after a restore."""
        self._wire(mint_url)

    def _wire(self, mint_url: str) -> None:
        """The parts, for the wallet's mint."""
        store, seed = self.store, self._seed
        self.mint_url = mint_url.rstrip("/")
        outputs = Outputs(store, seed)
        keysets = Keysets(store, self.mint_url)
        inputs = Inputs(store, keysets, outputs)
        self._shares = Shares(store, keysets, outputs)
        self._epochs = Epochs(store, keysets)
        self._redeemer = Redeemer(store, keysets, outputs, inputs)
        self._lightning = Lightning(store, keysets, outputs, inputs)
        self._tokens = Tokens(store, keysets, inputs, self.mint_url)
        self._restorer = Restorer(
            store, keysets, outputs, inputs, self._shares, self._lightning, self._epochs
        )
        self._claimer = Claimer(store, keysets, outputs, self._claim_secret, self.claim_pubkey)

    # -- opening --------------------------------------------------------------------------------

    @staticmethod
    def exists(wallet_dir: Path) -> bool:
        """True when `wallet_dir` already holds a wallet (a seed)."""
        if not (wallet_dir / DB_NAME).exists():
            return False
        store = WalletStore.in_dir(wallet_dir)
        try:
            return store.meta("mnemonic") is not None
        finally:
            store.close()

    @classmethod
    def open(cls, wallet_dir: Path, *, mint_url: str | None = None, mnemonic: str | None = None) -> Wallet:
        """Open (or create, with a new seed or the given phrase) the wallet in `wallet_dir`.

        A new wallet remembers `mint_url` (default: `default_mint_url()`). An existing one keeps
        its own unless `mint_url` names another, which it then remembers (the mint moved).
        """
        private_dir(wallet_dir)
        store = WalletStore.in_dir(wallet_dir)
        try:
            with store.transaction():
                words = store.meta("mnemonic")
                if words is None:
                    words = " ".join((mnemonic or nut13.new_mnemonic()).split())
                    nut13.seed_from_mnemonic(words)  # refuse a bad phrase before storing it
                    store.set_meta("mnemonic", words)
                    store.set_meta("mint_url", (mint_url or default_mint_url()).rstrip("/"))
                    store.add_history("created", Unit.SAT, 0, detail={"restored": mnemonic is not None})
                elif mnemonic is not None and " ".join(mnemonic.split()) != words:
                    raise WalletError(
                        f"{wallet_dir} already holds a wallet with another seed phrase; "
                        f"restore into an empty --wallet-dir"
                    )
                stored_url = store.meta("mint_url") or default_mint_url()
                if mint_url is not None and mint_url.rstrip("/") != stored_url:
                    log.warning("wallet %s: mint moved from %s to %s", wallet_dir, stored_url, mint_url)
                    stored_url = mint_url.rstrip("/")
                    store.set_meta("mint_url", stored_url)
            return cls(store, nut13.seed_from_mnemonic(words), stored_url)
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        self.store.close()

    def use_mint(self, mint_url: str) -> None:
        """The pool said where its mint is (`SetEcashMint`): remember it if it moved."""
        url = mint_url.rstrip("/")
        if url == self.mint_url:
            return
        log.warning(
            "wallet %s: mint moved from %s to %s (told by the pool)",
            self.store.path.parent,
            self.mint_url,
            url,
        )
        with self.store.transaction():
            self.store.set_meta("mint_url", url)
        self._wire(url)

    @property
    def pool(self) -> PoolAddress | None:
        """The pool this wallet's miner mines on (its redeems go there over SV2), if one did."""
        text = self.store.meta("pool")
        return None if text is None else PoolAddress.from_text(text)

    def remember_pool(self, pool: PoolAddress) -> None:
        if self.pool != pool:
            with self.store.transaction():
                self.store.set_meta("pool", pool.to_text())

    @property
    def mnemonic(self) -> str:
        return self.store.meta("mnemonic") or ""

    def show_seed(self, *, again: bool = False) -> str:
        """The seed phrase, to be shown once: later calls refuse unless `again` (each showing is recorded)."""
        shown = self.store.meta("seed_shown_at")
        if shown and not again:
            raise WalletError(
                f"the seed phrase was already shown ({shown} UTC); pass --force to show it again"
            )
        with self.store.transaction():
            self.store.set_meta(
                "seed_shown_at", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
            )
        return self.mnemonic

    # -- from the store alone -------------------------------------------------------------------

    def balance(self) -> WalletBalance:
        """ehash per epoch (status, price, estimated sats when known) and sats, from the store alone."""
        return balance_of(self.store)

    def listing(self, history_limit: int = 20) -> WalletListing:
        """Proofs held by unit/epoch/amount and state, pending shares and the newest history entries."""
        return listing_of(self.store, history_limit)

    # -- shares (miner and proxy) ---------------------------------------------------------------

    def prepare_share(self, keyset_id: str, amount: int, epoch: int) -> PreparedShare:
        """A fresh blinded message for one share, stored durably before it is returned."""
        return self._shares.prepare(keyset_id, amount, epoch)

    def complete_share(self, prepared: PreparedShare, sig: BlindSig, K: bytes) -> Proof:
        """Check the pool's signature (DLEQ against K), unblind it and keep the ehash proof; a failed
        check is kept as evidence, logged as an error and raised as `DleqFailure`."""
        return self._shares.complete(prepared, sig, K)

    def fail_share(self, prepared: PreparedShare, reason: str) -> None:
        """The pool refused the share (or never answered): kept until its epoch is settled."""
        self._shares.fail(prepared, reason)

    def epoch_status_changed(self, epoch: int, status: str, price: Fraction | None = None) -> None:
        """Record an epoch's new status; a lost or orphaned epoch's secrets, entries and proofs go."""
        self._epochs.status_changed(epoch, EpochStatus(status), price)

    # -- with the mint --------------------------------------------------------------------------

    @asynccontextmanager
    async def _mint(self, client: MintClient | None) -> AsyncIterator[MintClient]:
        """`client` when the caller has one open, else a connection for this operation only."""
        if client is not None:
            yield client
            return
        async with MintClient(self.mint_url) as own:
            yield own

    async def recover_pending(self, client: MintClient | None = None) -> int:
        """Settle pending shares: keep those the mint signed (NUT-09), forget those it never will."""
        async with self._mint(client) as mint:
            return await self._shares.recover_pending(mint)

    async def refresh_epochs(self, client: MintClient | None = None) -> None:
        """Ask the mint about every epoch this wallet holds ehash of: status, price; drop dead ones."""
        async with self._mint(client) as mint:
            await self._epochs.refresh(mint)

    async def sync_epochs(self, client: MintClient | None = None) -> None:
        """Housekeeping for a miner: settle pending shares, learn epoch outcomes, drop dead epochs."""
        async with self._mint(client) as mint:
            await self._shares.recover_pending(mint)
            await self._epochs.refresh(mint)

    async def redeem(
        self, epoch: int | None = None, progress: Progress | None = None, via: Sv2Redeemer | None = None
    ) -> int:
        """Turn mature ehash into sats (all mature epochs, or one), after syncing the epochs; returns the
        sats gained. `progress(done, total)` counts requests. The redeems go over SV2 on `via` (a miner's
        open channel) or to the pool this wallet knows, else over the mint's HTTP API."""
        async with MintClient(self.mint_url) as mint:
            await self.sync_epochs(mint)
            if via is None and self.pool is None:
                return await self._redeemer.redeem(mint, epoch, progress, mint)
            path = PoolRedeem(mint, link=via, address=self.pool)
            try:
                return await self._redeemer.redeem(mint, epoch, progress, path)
            finally:
                await path.close()

    async def claim(self) -> list[Claimed]:
        """Mint the payable claims of this wallet's key as ehash (then learn their epochs' prices)."""
        async with MintClient(self.mint_url) as mint:
            minted = await self._claimer.claim(mint)
            if minted:
                await self._epochs.refresh(mint)
            return minted

    async def invoice(self, amount: int, wait_s: float = 30.0) -> Invoice:
        """Mint `amount` sats: (bolt11 request, sats minted — 0 if not paid within `wait_s`, in which case
        `check_invoices` finishes it later)."""
        async with MintClient(self.mint_url) as mint:
            return await self._lightning.invoice(mint, amount, wait_s)

    async def check_invoices(self, client: MintClient | None = None) -> int:
        """Mint the sats of every earlier invoice that has been paid since; returns the sats minted."""
        async with self._mint(client) as mint:
            return await self._lightning.check_invoices(mint)

    async def withdraw(self, bolt11: str) -> Withdrawal:
        """Melt sats to pay a BOLT11 invoice; overpaid fee reserve comes back as change (NUT-08)."""
        async with MintClient(self.mint_url) as mint:
            return await self._lightning.withdraw(mint, bolt11)

    async def send(
        self, amount: int, unit: str = Unit.SAT, epoch: int | None = None, memo: str | None = None
    ) -> str:
        """A cashuB token worth exactly `amount` (swapping for change when needed)."""
        async with MintClient(self.mint_url) as mint:
            return await self._tokens.send(mint, amount, unit, epoch, memo)

    async def receive(self, token_text: str) -> Received:
        """Swap a token's proofs for fresh ones of this wallet: (unit, amount, epoch)."""
        async with MintClient(self.mint_url) as mint:
            return await self._tokens.receive(mint, token_text)

    async def restore(self, progress: Callable[[str], None] | None = None) -> RestoreReport:
        """Find at the mint everything this seed was ever signed (sats, live-epoch ehash), and settle
        unfinished requests, pending shares and paid invoices."""
        async with MintClient(self.mint_url) as mint:
            return await self._restorer.restore(mint, progress)

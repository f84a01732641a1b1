"""The wallet service: ehash from shares, sats from redeems, tokens, Lightning, restore (issue 7).

Every secret and blinding factor comes from the seed (NUT-13) and a per-keyset counter, and the
counters are advanced in the store *before* a request leaves the wallet: a crash at any point
loses nothing that `restore` cannot find again at the mint (NUT-09). A share's (secret, r, B_)
is stored before the share is submitted (`prepare_share`), its signature's DLEQ is checked before
the proof is kept (`complete_share`), and a signature that fails the check is kept as evidence.

Inputs handed to the mint are marked pending first; they are deleted once the mint's answer is
stored, put back when the mint refuses (after asking NUT-07 which of them it burned), and left
pending when the mint's answer never came (`restore` settles them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

from nutx_cli.core import bdhke, nut13
from nutx_cli.core.accounting import parse_price, redeem_value
from nutx_cli.core.keysets import amount_split, keyset_from_public_json, keyset_id_v1, keyset_id_v2
from nutx_cli.core.models import DLEQ, BlindedMessage, BlindSignature, ModelError, Proof
from nutx_cli.core.tokens import Token, TokenError, decode_token, encode_token_v4, resolve_short_ids
from nutx_cli.errors import NutxError
from nutx_cli.local import DEFAULT_HTTP_PORT, read_pool_json
from nutx_cli.private_files import private_dir
from nutx_cli.wallet.client import BadMintAnswer, MintClient, MintRefused, MintUnreachable
from nutx_cli.wallet.store import (
    DB_NAME,
    PENDING,
    RESERVED,
    UNSPENT,
    KeysetRow,
    PendingShareRow,
    StoredProof,
    WalletStore,
)

log = logging.getLogger(__name__)

SAT = "sat"
EHASH = "ehash"
DEAD_STATUSES = ("lost", "orphaned")
"""Epochs that will never pay: the wallet drops their secrets, pending entries and proofs."""
REDEEMABLE = "mature"
MAX_PER_REQUEST = 1000
"""The mint's limit on inputs and on outputs of one request (DESIGN §5)."""
RESTORE_BATCH = {SAT: 100, EHASH: MAX_PER_REQUEST}
RESTORE_EMPTY_BATCHES = 3
"""NUT-13 restore: outputs in batches of 100, stop after 3 batches in a row the mint never signed.
An ehash keyset is scanned 1,000 at a time: a miner's counters can skip long runs of shares the pool
refused (stale after a job switch, a pool restart), which must not end the scan early."""
BLANK_AMOUNT = 1
"""Amount written into NUT-08 blank outputs (the mint overwrites it)."""

T = TypeVar("T")
Progress = Callable[[int, int], None]
"""progress(done, total), called as a long operation advances."""


class WalletError(NutxError):
    """Something the wallet cannot do, with what to do about it."""


class DleqFailure(WalletError):
    """The mint's signature does not prove it used its published key: kept as evidence."""


def default_mint_url() -> str:
    """The local pool's mint (pool.json `http`), else the default mint port on this machine."""
    try:
        return read_pool_json().http
    except NutxError:
        return f"http://127.0.0.1:{DEFAULT_HTTP_PORT}"


def select_proofs(proofs: Sequence[StoredProof], amount: int) -> tuple[list[StoredProof], bool]:
    """Proofs worth at least `amount`: an exact subset when the greedy pick finds one (True), else
    the largest proofs until the sum is reached (False: the caller swaps for change)."""
    by_size = sorted(proofs, key=lambda p: p.amount, reverse=True)
    exact, remaining = [], amount
    for p in by_size:
        if p.amount <= remaining:
            exact.append(p)
            remaining -= p.amount
    if remaining == 0:
        return exact, True
    chosen, total = [], 0
    for p in by_size:
        if total >= amount:
            break
        chosen.append(p)
        total += p.amount
    if total < amount:
        raise WalletError(f"not enough funds: {amount} needed, {sum(p.amount for p in proofs)} available")
    return chosen, False


def _chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


@dataclass(frozen=True)
class PreparedShare:
    """A share's blinded message, already stored; hand `B_` to the pool, then complete or fail it."""

    id: int
    keyset_id: str
    epoch: int
    amount: int
    counter: int
    secret: str
    r: bytes
    B_: bytes


@dataclass(frozen=True)
class EpochBalance:
    """ehash held for one epoch, with what the wallet last heard of the epoch."""

    epoch: int
    amount: int
    status: str | None
    price: Fraction | None

    @property
    def estimated_sats(self) -> int | None:
        """floor(amount × price) once the epoch has a price (what a redeem would pay)."""
        return None if self.price is None else redeem_value([self.amount], self.price) if self.amount else 0


@dataclass(frozen=True)
class WalletBalance:
    sats: int
    epochs: list[EpochBalance] = field(default_factory=list)
    pending_shares: int = 0
    pending_sats: int = 0
    pending_ehash: int = 0

    @property
    def ehash_by_epoch(self) -> dict[int, int]:
        return {e.epoch: e.amount for e in self.epochs}

    @property
    def ehash(self) -> int:
        return sum(e.amount for e in self.epochs)


def balance_of(store: WalletStore) -> WalletBalance:
    """The balance from the store alone (no mint needed): the CLI, the proxy stats and the TUI use it."""
    status = {k.epoch: k for k in store.keysets(EHASH) if k.epoch is not None}
    sats, epochs = 0, []
    for unit, epoch, amount in store.proof_totals(UNSPENT):
        if unit == SAT:
            sats += amount
        elif unit == EHASH and epoch is not None:
            k = status.get(epoch)
            epochs.append(EpochBalance(epoch, amount, k.status if k else None, parse_price(k.price) if k else None))
    pending = store.proof_totals(PENDING)
    return WalletBalance(
        sats=sats,
        epochs=sorted(epochs, key=lambda e: e.epoch),
        pending_shares=len(store.pending_shares()),
        pending_sats=sum(a for u, _, a in pending if u == SAT),
        pending_ehash=sum(a for u, _, a in pending if u == EHASH),
    )


@dataclass(frozen=True)
class _Output:
    """A blinded message this wallet made, with what it needs to unblind the answer."""

    keyset_id: str
    amount: int
    counter: int
    secret: str
    r: bytes
    B_: bytes

    def message(self) -> BlindedMessage:
        return BlindedMessage(self.amount, self.keyset_id, self.B_.hex())


@dataclass(frozen=True)
class RestoreReport:
    sats: int
    ehash_by_epoch: dict[int, int]
    settled_pending: int


class Wallet:
    """One wallet dir: its store, its seed and the mint it belongs to."""

    def __init__(self, store: WalletStore, seed: bytes, mint_url: str) -> None:
        self.store = store
        self._seed = seed
        self.mint_url = mint_url.rstrip("/")

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
                    store.add_history("created", SAT, 0, detail={"restored": mnemonic is not None})
                elif mnemonic is not None and " ".join(mnemonic.split()) != words:
                    raise WalletError(f"{wallet_dir} already holds a wallet with another seed phrase; "
                                      f"restore into an empty --wallet-dir")
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

    @property
    def mnemonic(self) -> str:
        return self.store.meta("mnemonic") or ""

    def balance(self) -> WalletBalance:
        """ehash per epoch (status, price, estimated sats when known) and sats, from the store alone."""
        return balance_of(self.store)

    def _client(self) -> MintClient:
        return MintClient(self.mint_url)

    # -- making outputs and reading answers ----------------------------------------------------------

    def _derive(self, keyset_id: str, counter: int, amount: int) -> _Output:
        secret = nut13.derive_secret(self._seed, keyset_id, counter)
        r = nut13.derive_blinding_factor(self._seed, keyset_id, counter)
        return _Output(keyset_id, amount, counter, secret, r, bdhke.blind(secret, r))

    def _new_outputs(self, keyset_id: str, amounts: Sequence[int]) -> list[_Output]:
        """Outputs on fresh counters; the counters are advanced durably before anything is sent."""
        with self.store.transaction():
            start = self.store.reserve_counters(keyset_id, len(amounts))
        return [self._derive(keyset_id, start + i, a) for i, a in enumerate(amounts)]

    def _record_dleq_failure(self, context: str, out: _Output, amount: int, C_: bytes, e: bytes, s: bytes,
                             K: bytes) -> None:
        with self.store.transaction():
            self.store.add_dleq_failure(context=context, keyset_id=out.keyset_id, amount=amount, B_=out.B_,
                                        C_=C_, e=e, s=s, K=K, secret=out.secret, r=out.r)
        log.error("DLEQ FAILURE (%s): the mint's signature for keyset %s amount %d was not made with its "
                  "published key; kept as evidence in %s", context, out.keyset_id, amount, self.store.path)

    def _unblind(self, out: _Output, sig: BlindSignature, keys: dict[int, bytes], context: str) -> Proof | None:
        """The proof for one answered output, or None (evidence kept) when the DLEQ does not hold."""
        K = keys.get(sig.amount)
        if K is None or sig.id != out.keyset_id or sig.amount != out.amount:
            raise BadMintAnswer(f"the mint signed with keyset {sig.id} amount {sig.amount}, "
                                f"which is not what output {out.counter} asked for")
        C_ = bytes.fromhex(sig.C_)
        if sig.dleq is None:
            self._record_dleq_failure(context + " (no DLEQ)", out, sig.amount, C_, b"", b"", K)
            return None
        e, s = bytes.fromhex(sig.dleq.e), bytes.fromhex(sig.dleq.s)
        try:
            ok = bdhke.verify_blind_dleq(K, out.B_, C_, e, s)
        except bdhke.CryptoError:
            ok = False
        if not ok:
            self._record_dleq_failure(context, out, sig.amount, C_, e, s, K)
            return None
        C = bdhke.unblind(C_, out.r, K)
        return Proof(sig.amount, out.keyset_id, out.secret, C.hex(), DLEQ(sig.dleq.e, sig.dleq.s, out.r.hex()))

    def _unblind_all(self, outputs: Sequence[_Output], sigs: Sequence[BlindSignature], keys: dict[int, bytes],
                     context: str) -> tuple[list[Proof], int]:
        proofs, failed = [], 0
        for out, sig in zip(outputs, sigs, strict=False):
            proof = self._unblind(out, sig, keys, context)
            if proof is None:
                failed += 1
            else:
                proofs.append(proof)
        return proofs, failed

    # -- keysets ---------------------------------------------------------------------------------

    async def _keys(self, client: MintClient, keyset_id: str) -> dict[int, bytes]:
        """The keyset's public keys: cached, or fetched and checked against the keyset id."""
        row = self.store.keyset(keyset_id)
        if row is not None and row.keys:
            return row.keys
        data = await client.keys(keyset_id)
        try:
            keys = keyset_from_public_json(data)
        except (ModelError, bdhke.CryptoError) as exc:
            raise BadMintAnswer(f"the mint's keys for {keyset_id} are malformed: {exc}") from None
        unit = str(data.get("unit") or "")
        fee = int(data.get("input_fee_ppk") or 0)
        derived = (keyset_id_v1(keys) if keyset_id.startswith("00")
                   else keyset_id_v2(keys, unit, fee, data.get("final_expiry")))
        if derived != keyset_id or data.get("id") != keyset_id:
            raise WalletError(f"the mint's keys do not hash to keyset id {keyset_id}: refusing a mint "
                              f"that lies about its keys")
        with self.store.transaction():
            self.store.upsert_keyset(keyset_id, unit, epoch=row.epoch if row else None,
                                     active=bool(data.get("active", True)), input_fee_ppk=fee, keys=keys)
        return keys

    async def _sat_keyset(self, client: MintClient) -> KeysetRow:
        """The mint's active sat keyset (keys loaded)."""
        active = [k for k in await client.keysets() if k.get("unit") == SAT and k.get("active")]
        if not active:
            raise WalletError(f"the mint at {self.mint_url} has no active sat keyset")
        keyset_id = str(active[0]["id"])
        with self.store.transaction():
            self.store.upsert_keyset(keyset_id, SAT, epoch=None, active=True,
                                     input_fee_ppk=int(active[0].get("input_fee_ppk") or 0))
        await self._keys(client, keyset_id)
        row = self.store.keyset(keyset_id)
        assert row is not None
        return row

    async def _learn_epochs(self, client: MintClient) -> list[dict[str, Any]]:
        """Refresh every ehash keyset the mint lists (epoch, status) and return the list."""
        listed = await client.mining_keysets()
        with self.store.transaction():
            for k in listed:
                self.store.upsert_keyset(str(k["id"]), EHASH, epoch=int(k["epoch"]), active=bool(k.get("active")),
                                         input_fee_ppk=int(k.get("input_fee_ppk") or 0), status=str(k["status"]))
        return listed

    def _held_epochs(self) -> set[int]:
        held = {e for unit, e, _ in self.store.proof_totals(UNSPENT) if unit == EHASH and e is not None}
        held |= {e for unit, e, _ in self.store.proof_totals(PENDING) if unit == EHASH and e is not None}
        return held | {p.epoch for p in self.store.pending_shares()}

    async def refresh_epochs(self, client: MintClient | None = None) -> None:
        """Ask the mint about every epoch this wallet holds ehash of: status, price; drop dead ones."""
        if client is None:
            async with self._client() as own:
                return await self.refresh_epochs(own)
        listed = {int(k["epoch"]): str(k["status"]) for k in await self._learn_epochs(client)}
        for epoch in sorted(self._held_epochs()):
            status = listed.get(epoch)
            known = self.store.keyset_for_epoch(epoch)
            if status in ("won", REDEEMABLE) and known is not None and known.price is not None:
                self.epoch_status_changed(epoch, status)  # the price of a won epoch never changes
            elif status in ("won", REDEEMABLE, "orphaned"):
                info = await client.epoch(epoch)
                self.epoch_status_changed(epoch, str(info["status"]), parse_price(info.get("price")))
            elif status is not None:
                self.epoch_status_changed(epoch, status)
        return None

    async def sync_epochs(self, client: MintClient | None = None) -> None:
        """Housekeeping for a miner: settle pending shares, learn epoch outcomes, drop dead epochs."""
        if client is None:
            async with self._client() as own:
                return await self.sync_epochs(own)
        await self.recover_pending(client)
        await self.refresh_epochs(client)
        return None

    # -- shares (miner and proxy) -------------------------------------------------------------------

    def prepare_share(self, keyset_id: str, amount: int, epoch: int) -> PreparedShare:
        """A fresh blinded message for one share, stored durably before it is returned."""
        with self.store.transaction():
            if self.store.keyset(keyset_id) is None:
                self.store.upsert_keyset(keyset_id, EHASH, epoch=epoch, active=True, input_fee_ppk=0, status="open")
            counter = self.store.reserve_counters(keyset_id, 1)
            out = self._derive(keyset_id, counter, amount)
            share_id = self.store.add_pending_share(keyset_id, epoch, counter, amount, out.secret, out.r, out.B_)
        return PreparedShare(share_id, keyset_id, epoch, amount, counter, out.secret, out.r, out.B_)

    def complete_share(self, prepared: PreparedShare, C_: bytes, e: bytes, s: bytes, K: bytes) -> Proof:
        """Check the pool's signature (DLEQ against K), unblind it and keep the ehash proof.

        A failed check is kept as evidence, logged as an error and raised as `DleqFailure`.
        """
        out = _Output(prepared.keyset_id, prepared.amount, prepared.counter, prepared.secret, prepared.r,
                      prepared.B_)
        row = self.store.keyset(prepared.keyset_id)
        published = row.keys.get(prepared.amount) if row and row.keys else None
        try:
            ok = (published is None or published == K) and bdhke.verify_blind_dleq(K, prepared.B_, C_, e, s)
        except bdhke.CryptoError:
            ok = False
        if not ok:
            context = "share" if published in (None, K) else "share signed with an unpublished key"
            self._record_dleq_failure(context, out, prepared.amount, C_, e, s, K)
            with self.store.transaction():
                self.store.delete_pending_shares([prepared.id])
            raise DleqFailure(f"the pool's signature for a share of epoch {prepared.epoch} fails its DLEQ proof; "
                              f"kept as evidence in {self.store.path}")
        C = bdhke.unblind(C_, prepared.r, K)
        proof = Proof(prepared.amount, prepared.keyset_id, prepared.secret, C.hex(),
                      DLEQ(e.hex(), s.hex(), prepared.r.hex()))
        with self.store.transaction():
            self.store.add_proofs([StoredProof(proof, EHASH, prepared.epoch, UNSPENT)])
            self.store.delete_pending_shares([prepared.id])
        return proof

    def fail_share(self, prepared: PreparedShare, reason: str) -> None:
        """The pool refused the share (or never answered): keep the entry until the epoch closes,
        when `recover_pending` asks the mint whether it was signed after all."""
        with self.store.transaction():
            self.store.fail_pending_share(prepared.id, reason)
        log.debug("share %d of epoch %d failed: %s", prepared.id, prepared.epoch, reason)

    def epoch_status_changed(self, epoch: int, status: str, price: Fraction | None = None) -> None:
        """Record an epoch's new status; a lost or orphaned epoch's secrets, entries and proofs go."""
        price_text = None if price is None else f"{price.numerator}/{price.denominator}"
        with self.store.transaction():
            self.store.set_epoch_status(epoch, status, price_text)
            if status not in DEAD_STATUSES:
                return
            dropped, pending = self.store.drop_epoch(epoch)
            if dropped or pending:
                self.store.add_history("dropped", EHASH, dropped, epoch, {"status": status, "pending": pending})
        if dropped or pending:
            log.warning("epoch %d is %s: dropped %d ehash and %d pending shares (worth nothing)",
                        epoch, status, dropped, pending)

    async def recover_pending(self, client: MintClient | None = None) -> int:
        """Settle pending shares: keep those the mint signed (NUT-09), forget those it never will."""
        if client is None:
            async with self._client() as own:
                return await self.recover_pending(own)
        rows = self.store.pending_shares()
        if not rows:
            return 0
        listed = {int(k["epoch"]): str(k["status"]) for k in await self._learn_epochs(client)}
        recovered = 0
        by_keyset: dict[str, list[PendingShareRow]] = {}
        for row in rows:
            by_keyset.setdefault(row.keyset_id, []).append(row)
        for keyset_id, group in by_keyset.items():
            keys = await self._keys(client, keyset_id)
            for batch in _chunks(group, MAX_PER_REQUEST):
                found = await client.restore([BlindedMessage(r.amount, keyset_id, r.B_.hex()) for r in batch])
                sig_by_b = {bytes.fromhex(o.B_): sig for o, sig in found}
                done: list[int] = []
                for r in batch:
                    sig = sig_by_b.get(r.B_)
                    if sig is not None:
                        if sig.dleq is None or sig.amount != r.amount or r.amount not in keys:
                            raise BadMintAnswer(f"the mint restored share {r.id} with another amount or no DLEQ")
                        prepared = PreparedShare(r.id, keyset_id, r.epoch, r.amount, r.counter, r.secret, r.r, r.B_)
                        try:
                            self.complete_share(prepared, bytes.fromhex(sig.C_), bytes.fromhex(sig.dleq.e),
                                                bytes.fromhex(sig.dleq.s), keys[r.amount])
                            recovered += 1
                        except DleqFailure:
                            pass
                    elif listed.get(r.epoch) not in (None, "open"):
                        done.append(r.id)  # the epoch is closed: the mint will never sign it now
                with self.store.transaction():
                    self.store.delete_pending_shares(done)
        return recovered

    # -- pending inputs --------------------------------------------------------------------------

    async def _spend(self, client: MintClient, inputs: Sequence[StoredProof],
                     request: Callable[[], Awaitable[T]]) -> T:
        """Run a request that burns `inputs`: pending first; on a refusal put back what is unspent."""
        ys = [p.proof.Y for p in inputs]
        with self.store.transaction():
            self.store.set_proof_state(ys, PENDING)
        try:
            return await request()
        except MintRefused:
            await self._settle(client, ys)
            raise
        except (MintUnreachable, BadMintAnswer) as exc:
            raise WalletError(f"{exc}; {len(ys)} proofs stay pending until `nutx wallet restore` "
                              f"asks the mint what happened") from None

    async def _settle(self, client: MintClient, ys: Sequence[str]) -> int:
        """NUT-07 for proofs in doubt: spent ones are deleted, unspent ones become spendable again."""
        settled = 0
        for batch in _chunks(list(ys), MAX_PER_REQUEST):
            try:
                states = await client.checkstate(batch)
            except (MintUnreachable, BadMintAnswer):
                return settled
            with self.store.transaction():
                self.store.delete_proofs([y for y, s in zip(batch, states, strict=True) if s == "SPENT"])
                self.store.set_proof_state([y for y, s in zip(batch, states, strict=True) if s == "UNSPENT"],
                                           UNSPENT)
            settled += sum(1 for s in states if s != "PENDING")
        return settled

    def _store_result(self, spent: Sequence[StoredProof], new: Iterable[Proof], unit: str, epoch: int | None,
                      state: str = UNSPENT) -> list[StoredProof]:
        stored = [StoredProof(p, unit, epoch, state) for p in new]
        with self.store.transaction():
            self.store.delete_proofs([p.proof.Y for p in spent])
            self.store.add_proofs(stored)
        return stored

    def _check_failures(self, failed: int, context: str) -> None:
        if failed:
            raise DleqFailure(f"{failed} signatures of the mint's {context} answer fail their DLEQ proof; "
                              f"kept as evidence in {self.store.path}")

    # -- swap, send, receive ----------------------------------------------------------------------

    async def _swap(self, client: MintClient, inputs: Sequence[StoredProof], keyset: KeysetRow,
                    amounts: Sequence[int], unit: str, epoch: int | None) -> list[StoredProof]:
        keys = await self._keys(client, keyset.id)
        outputs = sorted(self._new_outputs(keyset.id, amounts), key=lambda o: o.amount)
        sigs = await self._spend(client, inputs, lambda: client.swap([p.proof for p in inputs],
                                                                     [o.message() for o in outputs]))
        proofs, failed = self._unblind_all(outputs, sigs, keys, "swap")
        stored = self._store_result(inputs, proofs, unit, epoch)
        self._check_failures(failed, "swap")
        return stored

    async def _fee(self, client: MintClient, proofs: Sequence[StoredProof]) -> int:
        ppk = 0
        for keyset_id in {p.proof.id for p in proofs}:
            row = self.store.keyset(keyset_id)
            if row is None or row.keys is None:
                await self._keys(client, keyset_id)
                row = self.store.keyset(keyset_id)
            assert row is not None
            ppk += row.input_fee_ppk * sum(1 for p in proofs if p.proof.id == keyset_id)
        return (ppk + 999) // 1000

    async def send(self, amount: int, unit: str = SAT, epoch: int | None = None, memo: str | None = None) -> str:
        """A cashuB token worth exactly `amount` (swapping for change when needed)."""
        if amount <= 0:
            raise WalletError("the amount to send must be positive")
        if unit == EHASH and epoch is None:
            raise WalletError("ehash of different epochs has different prices: pass --epoch E")
        if unit not in (SAT, EHASH):
            raise WalletError(f"unknown unit {unit!r}: use sat or ehash")
        proofs = self.store.proofs(unit=unit, epoch=epoch if unit == EHASH else None)
        chosen, exact = select_proofs(proofs, amount)
        async with self._client() as client:
            if not exact:
                if unit == EHASH:
                    assert epoch is not None
                    keyset = self.store.keyset_for_epoch(epoch)
                    if keyset is None:
                        raise WalletError(f"the wallet knows no keyset of epoch {epoch}")
                else:
                    keyset = await self._sat_keyset(client)
                fee = await self._fee(client, chosen)
                change = sum(p.amount for p in chosen) - amount - fee
                if change < 0:
                    chosen, _ = select_proofs(proofs, amount + fee + 1)
                    fee = await self._fee(client, chosen)
                    change = sum(p.amount for p in chosen) - amount - fee
                new = await self._swap(client, chosen, keyset, amount_split(amount) + amount_split(change), unit,
                                       epoch)
                chosen, _ = select_proofs(new, amount)
        with self.store.transaction():
            self.store.set_proof_state([p.proof.Y for p in chosen], RESERVED)
            self.store.add_history("send", unit, amount, epoch, {"proofs": len(chosen)})
        return encode_token_v4(Token(self.mint_url, unit, [p.proof for p in chosen], memo))

    async def receive(self, token_text: str) -> tuple[str, int, int | None]:
        """Swap a token's proofs for fresh ones of this wallet: returns (unit, amount, epoch)."""
        try:
            token = decode_token(token_text)
        except TokenError as exc:
            raise WalletError(f"cannot read the token: {exc}") from None
        if token.mint.rstrip("/") != self.mint_url:
            raise WalletError(f"the token is from the mint {token.mint}, this wallet uses {self.mint_url}; "
                              f"receive it with a wallet of that mint (--wallet-dir, --mint)")
        async with self._client() as client:
            await self._learn_epochs(client)
            sat_keysets = await client.keysets()
            known = [k["id"] for k in sat_keysets] + [k.id for k in self.store.keysets(EHASH)]
            try:
                token = resolve_short_ids(token, known)
            except TokenError as exc:
                raise WalletError(str(exc)) from None
            for k in sat_keysets:
                with self.store.transaction():
                    self.store.upsert_keyset(str(k["id"]), SAT, epoch=None, active=bool(k.get("active")),
                                             input_fee_ppk=int(k.get("input_fee_ppk") or 0))
            groups: dict[str, list[Proof]] = {}
            for p in token.proofs:
                groups.setdefault(p.id, []).append(p)
            epoch: int | None = None
            total = 0
            for keyset_id, proofs in groups.items():
                row = self.store.keyset(keyset_id)
                if row is None or row.unit != token.unit:
                    raise WalletError(f"keyset {keyset_id} of the token is not a {token.unit} keyset of this mint")
                if row.unit == EHASH and row.status in DEAD_STATUSES:
                    raise WalletError(f"the token's ehash is of epoch {row.epoch}, which was {row.status}: "
                                      f"it is worth nothing")
                keys = await self._keys(client, keyset_id)
                self._check_token_dleq(proofs, keys)
                target = row if row.unit == EHASH else await self._sat_keyset(client)
                epoch = row.epoch if row.unit == EHASH else None
                for batch in _chunks(proofs, MAX_PER_REQUEST):
                    inputs = [StoredProof(p, row.unit, epoch, PENDING) for p in batch]
                    with self.store.transaction():
                        self.store.add_proofs(inputs)
                    fee = await self._fee(client, inputs)
                    value = sum(p.amount for p in batch) - fee
                    if value <= 0:
                        raise WalletError("the token is worth less than the mint's input fee")
                    try:
                        await self._swap(client, inputs, target, amount_split(value), row.unit, epoch)
                    except MintRefused as exc:
                        if exc.name == "proof-spent":
                            raise WalletError("this token was already received (its proofs are spent)") from None
                        raise
                    total += value
        with self.store.transaction():
            self.store.add_history("receive", token.unit, total, epoch, {"memo": token.memo})
        return token.unit, total, epoch

    @staticmethod
    def _check_token_dleq(proofs: Sequence[Proof], keys: dict[int, bytes]) -> None:
        """NUT-12: a received proof that carries a DLEQ must verify (else the mint may be tagging it)."""
        for p in proofs:
            K = keys.get(p.amount)
            if K is None:
                raise WalletError(f"the token has a proof of amount {p.amount}, which its keyset has no key for")
            if p.dleq is None or p.dleq.r is None:
                continue
            try:
                ok = bdhke.verify_proof_dleq(K, p.secret, bytes.fromhex(p.C), bytes.fromhex(p.dleq.r),
                                             bytes.fromhex(p.dleq.e), bytes.fromhex(p.dleq.s))
            except bdhke.CryptoError:
                ok = False
            if not ok:
                raise WalletError("a proof in the token fails its DLEQ check: it was not signed with the mint's "
                                  "published key; refusing it")

    # -- redeem ------------------------------------------------------------------------------------

    async def redeem(self, epoch: int | None = None, progress: Progress | None = None) -> int:
        """Turn mature ehash into sats (all mature epochs, or one); returns the sats gained.

        Each epoch is paid by one redeem asking for exactly floor(Σ amounts × price). An epoch held
        in more than 1,000 proofs is first consolidated by ehash→ehash swaps in its own keyset,
        1,000 proofs per request, so the price is floored once and no sat is lost to rounding.
        `progress(done, total)` counts requests.
        """
        async with self._client() as client:
            await self.sync_epochs(client)
            if epoch is not None:
                row = self.store.keyset_for_epoch(epoch)
                if row is None or not self.store.proofs(unit=EHASH, epoch=epoch):
                    raise WalletError(f"this wallet holds no ehash of epoch {epoch}")
                if row.status != REDEEMABLE:
                    raise WalletError(f"epoch {epoch} is {row.status}: only mature epochs can be redeemed; "
                                      f"wait for its block to mature")
                epochs = [epoch]
            else:
                epochs = [e.epoch for e in balance_of(self.store).epochs if e.status == REDEEMABLE]
            work = {e: self.store.proofs(unit=EHASH, epoch=e) for e in epochs}
            swaps = [len(_chunks(p, MAX_PER_REQUEST)) if len(p) > MAX_PER_REQUEST else 0 for p in work.values()]
            steps = [0, len(work) + sum(swaps)]  # requests done, requests planned

            def step() -> None:
                steps[0] += 1
                steps[1] = max(steps[1], steps[0])  # a second consolidation pass (> 15,000 proofs) adds steps
                if progress:
                    progress(steps[0], steps[1])

            if progress:
                progress(0, steps[1])
            gained = 0
            for e, proofs in work.items():
                row = self.store.keyset_for_epoch(e)
                price = parse_price(row.price) if row else None
                if row is None or price is None:
                    raise WalletError(f"the mint has published no price for epoch {e}")
                batch = await self._consolidate(client, proofs, row, step)
                gained += await self._redeem_batch(client, batch, await self._sat_keyset(client), price, e)
                step()
        return gained

    async def _consolidate(self, client: MintClient, proofs: Sequence[StoredProof], keyset: KeysetRow,
                           step: Callable[[], None]) -> Sequence[StoredProof]:
        """Swap proofs into as few as their amounts allow until at most 1,000 are left."""
        while len(proofs) > MAX_PER_REQUEST:
            merged: list[StoredProof] = []
            for chunk in _chunks(proofs, MAX_PER_REQUEST):
                value = sum(p.amount for p in chunk) - await self._fee(client, chunk)
                merged += await self._swap(client, chunk, keyset, amount_split(value), EHASH, keyset.epoch)
                step()
            proofs = merged
        return proofs

    async def _redeem_batch(self, client: MintClient, batch: Sequence[StoredProof], sat: KeysetRow,
                            price: Fraction, epoch: int) -> int:
        value = redeem_value([p.amount for p in batch], price)
        ehash = sum(p.amount for p in batch)
        if value == 0:
            log.warning("epoch %d: %d ehash are worth less than 1 sat; kept", epoch, ehash)
            return 0
        keys = await self._keys(client, sat.id)
        outputs = self._new_outputs(sat.id, amount_split(value))
        sigs = await self._spend(client, batch, lambda: client.redeem([p.proof for p in batch],
                                                                      [o.message() for o in outputs]))
        proofs, failed = self._unblind_all(outputs, sigs, keys, "redeem")
        self._store_result(batch, proofs, SAT, None)
        with self.store.transaction():
            self.store.add_history("redeem", SAT, value, epoch, {"ehash": ehash, "proofs": len(batch)})
        self._check_failures(failed, "redeem")
        return value

    # -- Lightning ---------------------------------------------------------------------------------

    async def invoice(self, amount: int, wait_s: float = 30.0) -> tuple[str, int]:
        """Mint `amount` sats: a mint quote, paid (at once on regtest), then the sats. Returns
        (bolt11 request, sats minted — 0 if not paid within `wait_s`; `check_invoices` finishes it)."""
        if amount <= 0:
            raise WalletError("the invoice amount must be positive")
        async with self._client() as client:
            quote = await client.mint_quote(amount, SAT)
            with self.store.transaction():
                self.store.add_mint_quote(str(quote["quote"]), amount, str(quote["request"]), "UNPAID")
            deadline = asyncio.get_running_loop().time() + wait_s
            while True:
                minted = await self._mint_if_paid(client, str(quote["quote"]), amount)
                if minted or asyncio.get_running_loop().time() >= deadline:
                    return str(quote["request"]), minted
                await asyncio.sleep(0.5)

    async def check_invoices(self, client: MintClient | None = None) -> int:
        """Mint the sats of every earlier invoice that has been paid since; returns the sats minted."""
        if client is None:
            async with self._client() as own:
                return await self.check_invoices(own)
        minted = 0
        for q in self.store.mint_quotes("UNPAID"):
            try:
                minted += await self._mint_if_paid(client, q["quote"], q["amount"])
            except MintRefused as exc:  # expired, unknown to the mint, or minted by another process
                log.warning("mint quote %s: %s", q["quote"], exc)
                with self.store.transaction():
                    self.store.set_mint_quote_state(q["quote"], exc.name)
        return minted

    async def _mint_if_paid(self, client: MintClient, quote: str, amount: int) -> int:
        state = (await client.mint_quote_state(quote)).get("state")
        if state == "ISSUED":
            with self.store.transaction():
                self.store.set_mint_quote_state(quote, "ISSUED")
            return 0
        if state != "PAID":
            return 0
        sat = await self._sat_keyset(client)
        keys = await self._keys(client, sat.id)
        outputs = self._new_outputs(sat.id, amount_split(amount))
        sigs = await client.mint(quote, [o.message() for o in outputs])
        proofs, failed = self._unblind_all(outputs, sigs, keys, "mint")
        self._store_result([], proofs, SAT, None)
        with self.store.transaction():
            self.store.set_mint_quote_state(quote, "ISSUED")
            self.store.add_history("invoice", SAT, amount, None, {"quote": quote})
        self._check_failures(failed, "mint")
        return amount

    async def withdraw(self, bolt11: str) -> dict[str, Any]:
        """Melt sats to pay a BOLT11 invoice; overpaid fee reserve comes back as change (NUT-08)."""
        async with self._client() as client:
            quote = await client.melt_quote(bolt11.strip(), SAT)
            amount, reserve = int(quote["amount"]), int(quote["fee_reserve"])
            proofs = self.store.proofs(unit=SAT)
            chosen, _ = select_proofs(proofs, amount + reserve)
            fee = await self._fee(client, chosen)
            if sum(p.amount for p in chosen) - fee < amount + reserve:
                chosen, _ = select_proofs(proofs, amount + reserve + fee)
            sat = await self._sat_keyset(client)
            keys = await self._keys(client, sat.id)
            excess = sum(p.amount for p in chosen) - amount
            blanks = self._new_outputs(sat.id, [BLANK_AMOUNT] * excess.bit_length())
            answer = await self._spend(client, chosen, lambda: client.melt(
                str(quote["quote"]), [p.proof for p in chosen], [o.message() for o in blanks]))
            if answer.get("state") != "PAID":
                raise WalletError(f"the payment is {answer.get('state')}; its proofs stay pending until "
                                  f"`nutx wallet restore` finds out how it ended")
            change_sigs: list[BlindSignature] = answer["change"]
            change_outs = [replace(o, amount=sig.amount) for o, sig in zip(blanks, change_sigs, strict=False)]
            change, failed = self._unblind_all(change_outs, change_sigs, keys, "melt change")
            self._store_result(chosen, change, SAT, None)
            paid = sum(p.amount for p in chosen) - sum(p.amount for p in change)
            with self.store.transaction():
                self.store.add_history("withdraw", SAT, paid, None, {"invoice": amount, "fee": paid - amount,
                                                                     "preimage": answer.get("payment_preimage")})
            self._check_failures(failed, "melt")
        return {"amount": amount, "fee": paid - amount, "preimage": answer.get("payment_preimage"),
                "change": sum(p.amount for p in change)}

    # -- restore (NUT-09 + NUT-13) -------------------------------------------------------------------

    async def restore(self, progress: Callable[[str], None] | None = None) -> RestoreReport:
        """Find at the mint everything this seed was ever signed: sats and live-epoch ehash.

        Also settles proofs left pending by an interrupted request and shares left pending by a
        miner that stopped between submit and answer.
        """
        async with self._client() as client:
            settled = await self._settle(client, [p.proof.Y for p in self.store.proofs(state=PENDING)])
            keysets: list[tuple[str, str, int | None]] = [(str(k["id"]), SAT, None) for k in await client.keysets() if k.get("unit") == SAT]
            keysets += [(str(k["id"]), EHASH, int(k["epoch"])) for k in await self._learn_epochs(client)
                        if k["status"] not in DEAD_STATUSES]
            for keyset_id, unit, epoch in keysets:
                if progress:
                    progress(f"keyset {keyset_id[:16]}… ({unit}{'' if epoch is None else f', epoch {epoch}'})")
                await self._restore_keyset(client, keyset_id, unit, epoch)
            await self.recover_pending(client)
            await self.check_invoices(client)
            await self.refresh_epochs(client)
        balance = balance_of(self.store)
        with self.store.transaction():
            self.store.add_history("restore", SAT, balance.sats, None, {"ehash": balance.ehash_by_epoch})
        return RestoreReport(balance.sats, balance.ehash_by_epoch, settled)

    async def _restore_keyset(self, client: MintClient, keyset_id: str, unit: str, epoch: int | None) -> None:
        keys = await self._keys(client, keyset_id)
        counter, empty, next_counter = 0, 0, 0
        found: list[Proof] = []
        size = RESTORE_BATCH[unit]
        while empty < RESTORE_EMPTY_BATCHES:
            outputs = [self._derive(keyset_id, c, BLANK_AMOUNT) for c in range(counter, counter + size)]
            by_b = {o.B_: o for o in outputs}
            pairs = await client.restore([o.message() for o in outputs])
            for message, sig in pairs:
                out = by_b.get(bytes.fromhex(message.B_))
                if out is None:
                    raise BadMintAnswer("the mint restored an output this wallet did not ask for")
                proof = self._unblind(replace(out, amount=sig.amount), sig, keys, "restore")
                if proof is not None:
                    found.append(proof)
                next_counter = max(next_counter, out.counter + 1)
            empty = 0 if pairs else empty + 1
            counter += size
        unspent: list[Proof] = []
        for batch in _chunks(found, MAX_PER_REQUEST):
            states = await client.checkstate([p.Y for p in batch])
            unspent += [p for p, s in zip(batch, states, strict=True) if s == "UNSPENT"]
        with self.store.transaction():
            self.store.raise_counter(keyset_id, next_counter)
            self.store.add_proofs(StoredProof(p, unit, epoch, UNSPENT) for p in unspent)

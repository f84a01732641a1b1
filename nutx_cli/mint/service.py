"""The mint (DESIGN §4–§5, §7): keysets, share signing, epochs, swap/redeem/mint/melt, all on one store.

Every request follows the same shape: validate shapes and keysets, verify proofs and compute
signatures *outside* the store lock (the expensive part), then one transaction re-checks what
can race (spent/pending Ys, reused B_, epoch status, quote state) and writes everything or
nothing. Signatures are deterministic (NUT-12 nonce from k and B_), so signing early and
discarding on a refusal is harmless.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from coincurve import PublicKeyXOnly

from nutx_cli import __version__
from nutx_cli.core import bdhke
from nutx_cli.core.accounting import (
    AccountingError,
    WorkLedger,
    check_redeem,
    epoch_price,
    format_price,
    theta_c,
)
from nutx_cli.core.keysets import Keyset, amount_split, derive_keyset, short_keyset_id
from nutx_cli.core.models import DLEQ, BlindedMessage, BlindSignature, Proof
from nutx_cli.core.targets import k_max_for
from nutx_cli.errors import NutxError
from nutx_cli.mint.errors import MintError
from nutx_cli.mint.lightning import FakeBackend, Invoice, LightningBackend, LightningError
from nutx_cli.mint.signer import BatchResult, GroupCommitSigner, ShareRequest, SignedShare
from nutx_cli.mint.store import MintStore, SignatureRow, SpendRow
from nutx_cli.private_files import private_dir

MAX_INPUTS = 1000
MAX_OUTPUTS = 1000
MAX_SECRET_LENGTH = 1024
MAX_WITNESS_LENGTH = 1024
MAX_MINT_SAT = 2**40
QUOTE_EXPIRY_S = 3600
SAT = "sat"
EHASH = "ehash"
ACTIVE_EPOCH_STATUSES = ("open", "won", "mature")
"""An ehash keyset accepts swap outputs while its epoch is in one of these (DESIGN §4)."""


def now_s() -> int:
    return int(time.time())


def _expired(quote_row: dict[str, Any]) -> bool:
    """A quote whose invoice can no longer be paid (NUT-04/05 `expiry`, unix seconds)."""
    return quote_row["expiry"] is not None and now_s() > quote_row["expiry"]


@dataclass(frozen=True)
class EpochInfo:
    """One epoch as the pool and the API see it (the EPOCH JSON of DESIGN §5)."""

    epoch: int
    status: str
    keyset_id: str
    k_max: int
    started_at: int
    ended_at: int | None
    height: int | None
    block_hash: str | None
    work: int
    work_by_amount: dict[int, int]
    theta_b: int | None
    mint_fee: int | None
    theta_c: int | None
    price: Fraction | None
    confirmations: int | None
    paid: int
    start_hash: str = ""
    start_height: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "status": self.status,
            "keyset_id": self.keyset_id,
            "k_max": self.k_max,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "height": self.height,
            "block_hash": self.block_hash,
            "work": self.work,
            "work_by_amount": {str(a): n for a, n in sorted(self.work_by_amount.items())},
            "theta_b": self.theta_b,
            "mint_fee": self.mint_fee,
            "theta_c": self.theta_c,
            "price": format_price(self.price),
            "confirmations": self.confirmations,
            "paid": self.paid,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any], work_by_amount: dict[int, int]) -> EpochInfo:
        work = WorkLedger.of(work_by_amount).work
        won = row["status"] in ("won", "mature", "orphaned") and row["theta_b"] is not None
        reward = theta_c(row["theta_b"], row["mint_fee"]) if won else None
        price = epoch_price(row["theta_b"], row["mint_fee"], work) if won else None
        return cls(
            epoch=row["epoch"],
            status=row["status"],
            keyset_id=row["keyset_id"],
            k_max=row["k_max"],
            started_at=row["started_at"],
            ended_at=row["ended_at"],
            height=row["height"],
            block_hash=row["block_hash"],
            work=work,
            work_by_amount=work_by_amount,
            theta_b=row["theta_b"],
            mint_fee=row["mint_fee"],
            theta_c=reward,
            price=price,
            confirmations=row["confirmations"],
            paid=row["paid"],
            start_hash=row["start_hash"],
            start_height=row["start_height"],
        )


def _length_prefixed(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


@dataclass(frozen=True)
class _Signed:
    """A computed (not yet stored) signature for one output."""

    message: BlindedMessage
    row: SignatureRow

    def to_model(self) -> BlindSignature:
        return BlindSignature(
            amount=self.row.amount,
            id=self.row.keyset_id,
            C_=self.row.C_.hex(),
            dleq=DLEQ(e=self.row.e.hex(), s=self.row.s.hex()),
        )


class Mint:
    """A Cashu mint with `sat` and per-epoch `ehash` keysets; one instance per data dir."""

    def __init__(
        self, store: MintStore, seed: bytes, network: str, mint_fee: int, lightning: LightningBackend
    ) -> None:
        self.store = store
        self.network = network
        self.mint_fee = mint_fee
        self.lightning = lightning
        self.k_max = k_max_for(network)
        self._seed = seed
        self._keysets: dict[str, Keyset] = {}
        self._keyset_epoch: dict[str, int | None] = {}
        self._short_ids: dict[str, str] = {}
        self._signing_keys: dict[tuple[str, int], bdhke.SigningKey] = {}  # (keyset id, amount) → parsed key
        self._signer = GroupCommitSigner(self._sign_share, self._commit_share_batch)
        self.sat_keyset = self._load_keysets()
        self._recover_melts()
        self.pubkey = bdhke.public_key(hashlib.sha256(b"nutx/mint-pubkey" + seed).digest()).hex()

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        network: str = "regtest",
        mint_fee: int = 0,
        lightning: LightningBackend | None = None,
    ) -> Mint:
        """Create or reopen the mint in `data_dir`: same seed, same keysets after a restart."""
        if mint_fee < 0:
            raise NutxError(f"--mint-fee must be ≥ 0 sats, got {mint_fee}")
        if lightning is None:
            if network != "regtest":
                raise NutxError(f"no Lightning backend for {network}: the fake backend runs on regtest only")
            lightning = FakeBackend(network)
        if lightning.network != network or (isinstance(lightning, FakeBackend) and network != "regtest"):
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

    def close(self) -> None:
        self.store.close()

    def _remember(self, keyset: Keyset, epoch: int | None) -> None:
        self._keysets[keyset.id] = keyset
        self._keyset_epoch[keyset.id] = epoch
        self._short_ids[short_keyset_id(keyset.id)] = keyset.id

    def _load_keysets(self) -> Keyset:
        """Derive every stored keyset again and check it matches (a changed seed would be fatal)."""
        rows = self.store.keysets()
        if not any(r["unit"] == SAT for r in rows):
            keyset = derive_keyset(self._seed, SAT, 0)
            with self.store.transaction():
                self.store.add_keyset(keyset.id, SAT, 0, None, keyset.input_fee_ppk, now_s())
            rows = self.store.keysets()
        sat: Keyset | None = None
        for r in rows:
            keyset = derive_keyset(self._seed, r["unit"], r["idx"], input_fee_ppk=r["input_fee_ppk"])
            if keyset.id != r["id"]:
                raise NutxError(
                    f"keyset {r['id']} does not derive from this mint's seed: the data dir is damaged"
                )
            self._remember(keyset, r["epoch"])
            if r["unit"] == SAT:
                sat = keyset
        assert sat is not None
        return sat

    def _recover_melts(self) -> None:
        """Settle melts a crash left PENDING: burn their proofs if the payment went out, else free them."""
        for quote in self.store.melt_quotes_in_state("PENDING"):
            row = self._melt_quote_row(quote)
            result = self.lightning.payment_result(self._decode(row["request"]))
            if result is None:
                continue
            with self.store.transaction():
                if result.ok:
                    self.store.spend_pending(quote, now_s())
                    self.store.update_melt_quote(
                        quote,
                        state="PAID",
                        payment_preimage=result.preimage,
                        fee_paid=-(-result.fee_msat // 1000),
                    )
                else:
                    self.store.drop_pending(quote)
                    self.store.update_melt_quote(quote, state="UNPAID")

    # -- keysets ------------------------------------------------------------------------------

    def keyset(self, keyset_id: str) -> Keyset:
        """A keyset by full id (or the 16-hex short id of a v2 id)."""
        full = self._short_ids.get(keyset_id, keyset_id) if len(keyset_id) == 16 else keyset_id
        keyset = self._keysets.get(full)
        if keyset is None:
            raise MintError("unknown-keyset", f"keyset {keyset_id} is not known to this mint")
        return keyset

    def keyset_epoch(self, keyset_id: str) -> int | None:
        return self._keyset_epoch.get(self.keyset(keyset_id).id)

    def keyset_active(self, keyset: Keyset) -> bool:
        epoch = self._keyset_epoch.get(keyset.id)
        if epoch is None:
            return keyset.id == self.sat_keyset.id
        return self.store.epoch_status(epoch) in ACTIVE_EPOCH_STATUSES

    def ehash_keyset(self, epoch: int) -> Keyset:
        return self.keyset(self.epoch(epoch).keyset_id)

    def _keyset_json(self, keyset: Keyset) -> dict[str, Any]:
        return {
            "id": keyset.id,
            "unit": keyset.unit,
            "active": self.keyset_active(keyset),
            "input_fee_ppk": keyset.input_fee_ppk,
            "final_expiry": keyset.final_expiry,
        }

    def sat_keysets(self) -> list[Keyset]:
        return [k for k in self._keysets.values() if k.unit == SAT]

    def keysets_json(self) -> dict[str, Any]:
        """GET /v1/keysets: the `sat` keysets only (ehash ones are at /v1/mining/keysets)."""
        return {"keysets": [self._keyset_json(k) for k in self.sat_keysets()]}

    def keys_json(self, keyset_id: str | None = None) -> dict[str, Any]:
        """GET /v1/keys (active sat keysets) or /v1/keys/{id} (any keyset, ehash included)."""
        chosen = (
            [self.keyset(keyset_id)]
            if keyset_id
            else [k for k in self.sat_keysets() if self.keyset_active(k)]
        )
        return {"keysets": [{**self._keyset_json(k), "keys": k.public_json()["keys"]} for k in chosen]}

    def mining_keysets_json(self) -> dict[str, Any]:
        out = []
        for info in self.epochs():
            keyset = self.keyset(info.keyset_id)
            out.append(
                {
                    "id": keyset.id,
                    "unit": EHASH,
                    "active": info.status in ACTIVE_EPOCH_STATUSES,
                    "input_fee_ppk": keyset.input_fee_ppk,
                    "epoch": info.epoch,
                    "status": info.status,
                    "k_max": info.k_max,
                }
            )
        return {"keysets": out}

    def info_json(self) -> dict[str, Any]:
        """GET /v1/info (NUT-06)."""
        method = {"method": "bolt11", "unit": SAT, "min_amount": 1, "max_amount": MAX_MINT_SAT}
        return {
            "name": "nutx mint",
            "pubkey": self.pubkey,
            "version": f"nutx/{__version__}",
            "description": f"nutx mining pool mint ({self.network}); ehash epochs at /v1/mining/epochs",
            "contact": [],
            "time": now_s(),
            "nuts": {
                "4": {"methods": [{**method, "options": {"description": True}}], "disabled": False},
                "5": {"methods": [{**method, "options": {"amountless": False}}], "disabled": False},
                "7": {"supported": True},
                "8": {"supported": True},
                "9": {"supported": True},
                "12": {"supported": True},
                "20": {"supported": True},
            },
        }

    # -- epochs -------------------------------------------------------------------------------

    def _epoch_row(self, epoch: int) -> dict[str, Any]:
        row = self.store.epoch_row(epoch)
        if row is None:
            raise MintError("unknown-epoch", f"epoch {epoch} does not exist")
        return row

    def epoch(self, n: int) -> EpochInfo:
        return EpochInfo.from_row(self._epoch_row(n), self.store.work_counts(n))

    def epochs(self) -> list[EpochInfo]:
        """All epochs, newest first."""
        return [EpochInfo.from_row(r, self.store.work_counts(r["epoch"])) for r in self.store.epoch_rows()]

    def current_epoch(self) -> EpochInfo | None:
        n = self.store.open_epoch()
        return None if n is None else self.epoch(n)

    def open_epoch(self, *, tip_hash: str, height: int, now: int) -> EpochInfo:
        """Start the next epoch at a chain tip and derive its ehash keyset."""
        with self.store.transaction():
            if self.store.open_epoch() is not None:
                raise MintError(
                    "epoch-state", f"epoch {self.store.open_epoch()} is still open; close it first"
                )
            n = (self.store.last_epoch() or 0) + 1
            keyset = derive_keyset(self._seed, EHASH, n)
            self.store.add_keyset(keyset.id, EHASH, n, n, keyset.input_fee_ppk, now)
            self.store.add_epoch(n, keyset.id, self.k_max, now, tip_hash, height)
        self._remember(keyset, n)
        return self.epoch(n)

    def _move_epoch(self, epoch: int, allowed: Iterable[str], **fields: Any) -> EpochInfo:
        with self.store.transaction():
            status = self._epoch_row(epoch)["status"]
            if status not in allowed:
                raise MintError("epoch-state", f"epoch {epoch} is {status}; cannot set {fields}")
            self.store.update_epoch(epoch, **fields)
        return self.epoch(epoch)

    def close_epoch_won(
        self, epoch: int, *, theta_b: int, block_hash: str, height: int, now: int
    ) -> EpochInfo:
        """The pool's block ended the epoch: W_e is final, θ_C = θ_B − F_M."""
        if theta_b < 0:
            raise MintError("epoch-state", f"block reward cannot be negative ({theta_b})")
        return self._move_epoch(
            epoch,
            ("open",),
            status="won",
            theta_b=theta_b,
            mint_fee=self.mint_fee,
            block_hash=block_hash,
            height=height,
            ended_at=now,
            confirmations=1,
        )

    def close_epoch_lost(self, epoch: int, *, height: int, now: int) -> EpochInfo:
        return self._move_epoch(epoch, ("open",), status="lost", height=height, ended_at=now)

    def set_confirmations(self, epoch: int, confirmations: int, *, maturity: int) -> EpochInfo:
        """Won → mature once the block has `maturity` confirmations (the block itself counts 1)."""
        status = self._epoch_row(epoch)["status"]
        new = "mature" if status == "won" and confirmations >= maturity else status
        return self._move_epoch(epoch, ("won", "mature"), status=new, confirmations=confirmations)

    def mark_orphaned(self, epoch: int) -> EpochInfo:
        """A reorg took the epoch's block out: its tokens are worth 0 from now on."""
        return self._move_epoch(epoch, ("won", "mature", "orphaned"), status="orphaned")

    # -- share signing (group commit) -----------------------------------------------------------

    async def sign_share(self, *, keyset_id: str, amount: int, B_: bytes) -> bdhke.BlindSig:
        """Sign one share's blinded message in the open epoch; returns once W_e's increment is durable."""
        return await self._signer.submit(ShareRequest(keyset_id, amount, B_))

    def sign_share_nowait(self, *, keyset_id: str, amount: int, B_: bytes) -> asyncio.Future[bdhke.BlindSig]:
        """Like `sign_share` without a coroutine per share: raises MintError at once for a request it
        cannot sign; the future holds the signature once W_e's increment is durable (or the refusal)."""
        return self._signer.submit_nowait(ShareRequest(keyset_id, amount, B_))

    def _sign_share(self, req: ShareRequest) -> bdhke.BlindSig:
        """The signature of one share request (no store access: the commit re-checks what can race)."""
        key = self._signing_keys.get((req.keyset_id, req.amount))
        if key is None:
            key = self._share_signing_key(req)
        try:
            return key.sign(req.B_)
        except bdhke.CryptoError as exc:
            raise MintError("invalid-blinded-message", f"B_ is not a valid point: {exc}") from None

    def _share_signing_key(self, req: ShareRequest) -> bdhke.SigningKey:
        keyset = self.keyset(req.keyset_id)
        if keyset.unit != EHASH:
            raise MintError("inactive-keyset", f"keyset {keyset.id} is not an epoch keyset")
        k = keyset.private_keys.get(req.amount)
        if k is None:
            raise MintError("amount-mismatch", f"keyset has no key for amount {req.amount}")
        key = self._signing_keys[(req.keyset_id, req.amount)] = bdhke.SigningKey.of(
            k, keyset.public_keys[req.amount]
        )
        return key

    def _commit_share_batch(self, batch: Sequence[SignedShare]) -> list[BatchResult]:
        """One transaction for a batch of signed shares: open-epoch keyset, no B_ reuse, W_e += amounts."""
        results: list[BatchResult] = []
        with self.store.transaction():
            open_n = self.store.open_epoch()
            open_keyset = None if open_n is None else self._epoch_row(open_n)["keyset_id"]
            reused = self.store.signed_among([s.request.B_ for s in batch])
            rows: list[SignatureRow] = []
            counts: Counter[int] = Counter()
            for signed in batch:
                req, sig = signed.request, signed.sig
                keyset_id = self.keyset(req.keyset_id).id
                if keyset_id != open_keyset:
                    results.append(
                        MintError("inactive-keyset", f"keyset {keyset_id} is not the open epoch's")
                    )
                elif req.B_ in reused:
                    results.append(MintError("blinded-message-reused", "this B_ was signed before"))
                else:
                    reused.add(req.B_)
                    rows.append(SignatureRow(req.B_, sig.C_, sig.e, sig.s, req.amount, keyset_id, share=True))
                    counts[req.amount] += 1
                    results.append(sig)
            if rows:
                assert open_n is not None
                self.store.add_signatures(rows)
                self.store.add_work(open_n, dict(counts))
        return results

    # -- shared checks ------------------------------------------------------------------------

    def _check_inputs(self, inputs: Sequence[Proof]) -> list[tuple[Proof, Keyset, SpendRow]]:
        if not inputs:
            raise MintError("malformed-request", "no inputs")
        if len(inputs) > MAX_INPUTS:
            raise MintError("too-many-proofs", f"{len(inputs)} inputs; at most {MAX_INPUTS} per request")
        out = []
        seen: set[bytes] = set()
        for p in inputs:
            if len(p.secret) > MAX_SECRET_LENGTH:
                raise MintError("proof-invalid", f"secret longer than {MAX_SECRET_LENGTH} characters")
            if p.witness is not None and len(p.witness) > MAX_WITNESS_LENGTH:
                raise MintError("proof-invalid", f"witness longer than {MAX_WITNESS_LENGTH} characters")
            y = bdhke.secret_to_y(p.secret)
            if y in seen:
                raise MintError("duplicate-inputs", "the same proof appears twice")
            seen.add(y)
            out.append((p, self.keyset(p.id), SpendRow(y, p.amount, "", p.witness)))
        for i, (p, keyset, row) in enumerate(out):
            k = keyset.private_keys.get(p.amount)
            try:
                valid = k is not None and bdhke.verify(k, p.secret, bytes.fromhex(p.C))
            except (bdhke.CryptoError, ValueError):
                valid = False
            if not valid:
                raise MintError("proof-invalid", f"proof {i} (amount {p.amount}) does not verify")
            out[i] = (p, keyset, SpendRow(row.Y, p.amount, keyset.id, p.witness))
        return out

    def _check_outputs(
        self, outputs: Sequence[BlindedMessage], unit: str, *, allow_zero: bool = False
    ) -> Keyset | None:
        """All outputs in one active keyset of `unit`, distinct B_, amounts the keyset has."""
        if len(outputs) > MAX_OUTPUTS:
            raise MintError("too-many-outputs", f"{len(outputs)} outputs; at most {MAX_OUTPUTS} per request")
        if not outputs:
            return None
        if len({o.B_.lower() for o in outputs}) != len(outputs):
            raise MintError("duplicate-outputs", "the same B_ appears twice")
        keysets = {self.keyset(o.id).id for o in outputs}
        if len(keysets) != 1:
            raise MintError("mixed-keysets", "all outputs of a request must use one keyset")
        keyset = self._keysets[keysets.pop()]
        if keyset.unit != unit:
            raise MintError("unit-mismatch", f"outputs are in unit {keyset.unit}, this request needs {unit}")
        if keyset.unit == EHASH:
            self._refuse_dead_epoch(keyset)
        if not self.keyset_active(keyset):
            raise MintError("output-keyset-inactive", f"keyset {keyset.id} is inactive and signs nothing")
        for o in outputs:
            if o.amount not in keyset.private_keys and not (allow_zero and o.amount == 0):
                raise MintError("amount-mismatch", f"keyset {keyset.id} has no key for amount {o.amount}")
        return keyset

    def _refuse_dead_epoch(self, keyset: Keyset) -> None:
        epoch = self._keyset_epoch.get(keyset.id)
        status = None if epoch is None else self.store.epoch_status(epoch)
        if status == "lost":
            raise MintError("epoch-lost", f"epoch {epoch} was lost; its ehash is worth nothing")
        if status == "orphaned":
            raise MintError(
                "epoch-orphaned", f"epoch {epoch} was orphaned by a reorg; its ehash is worth nothing"
            )

    def _sign(
        self, keyset: Keyset, outputs: Sequence[BlindedMessage], amounts: Sequence[int] | None = None
    ) -> list[_Signed]:
        out = []
        for i, o in enumerate(outputs):
            amount = o.amount if amounts is None else amounts[i]
            try:
                B_ = bytes.fromhex(o.B_)
                sig = bdhke.sign(keyset.private_keys[amount], B_, keyset.public_keys[amount])
            except (bdhke.CryptoError, ValueError) as exc:
                raise MintError(
                    "invalid-blinded-message", f"output {i}: B_ is not a valid point ({exc})"
                ) from None
            out.append(_Signed(o, SignatureRow(B_, sig.C_, sig.e, sig.s, amount, keyset.id)))
        return out

    def _check_unspent(self, spends: Sequence[SpendRow], signed: Sequence[_Signed]) -> None:
        """Inside a transaction: no input spent or pending, no output signed before."""
        states = self.store.proof_states([s.Y for s in spends])
        if any(state == "SPENT" for state, _ in states.values()):
            raise MintError("proof-spent", "a proof is already spent")
        if states:
            raise MintError("proof-pending", "a proof is pending in another transaction")
        if self.store.signed_among([s.row.B_ for s in signed]):
            raise MintError("blinded-message-reused", "an output B_ was signed before")

    @staticmethod
    def _fees(keysets: Iterable[Keyset]) -> int:
        return (sum(k.input_fee_ppk for k in keysets) + 999) // 1000

    # -- swap (NUT-03) and redeem (DESIGN §4) ---------------------------------------------------

    def swap(self, inputs: Sequence[Proof], outputs: Sequence[BlindedMessage]) -> list[BlindSignature]:
        checked = self._check_inputs(inputs)
        if not outputs:
            raise MintError("malformed-request", "no outputs")
        units = {keyset.unit for _, keyset, _ in checked}
        if len(units) != 1:
            raise MintError("unit-mismatch", f"inputs mix units {sorted(units)}")
        unit = units.pop()
        if unit == EHASH:
            for _, keyset, _ in checked:
                self._refuse_dead_epoch(keyset)
        out_keyset = self._check_outputs(outputs, unit)
        assert out_keyset is not None
        if unit == EHASH and any(keyset.id != out_keyset.id for _, keyset, _ in checked):
            raise MintError("mixed-keysets", "an ehash swap keeps every input and output in one epoch keyset")
        fee = self._fees(keyset for _, keyset, _ in checked)
        total_in = sum(p.amount for p, _, _ in checked)
        total_out = sum(o.amount for o in outputs)
        if total_in - fee != total_out:
            raise MintError("transaction-unbalanced", f"inputs {total_in} − fee {fee} ≠ outputs {total_out}")
        signed = self._sign(out_keyset, outputs)
        spends = [row for _, _, row in checked]
        with self.store.transaction():
            if unit == EHASH:
                self._refuse_dead_epoch(out_keyset)
            self._check_unspent(spends, signed)
            now = now_s()
            self.store.spend(spends, now)
            self.store.add_signatures([s.row for s in signed])
        return [s.to_model() for s in signed]

    def redeem(self, inputs: Sequence[Proof], outputs: Sequence[BlindedMessage]) -> list[BlindSignature]:
        """Burn ehash proofs of one mature epoch for `sat` outputs worth ≤ floor(Σ amounts × price)."""
        if len(inputs) > MAX_INPUTS:
            raise MintError("too-many-proofs", f"{len(inputs)} inputs; at most {MAX_INPUTS} per request")
        if not outputs:
            raise MintError("no-outputs", "a redeem needs at least one sat output")
        checked = self._check_inputs(inputs)
        if any(keyset.unit != EHASH for _, keyset, _ in checked):
            raise MintError("unit-mismatch", "redeem takes ehash proofs only")
        epochs = {self._keyset_epoch[keyset.id] for _, keyset, _ in checked}
        if len(epochs) != 1:
            raise MintError(
                "mixed-epochs", f"proofs of epochs {sorted(e or 0 for e in epochs)} in one redeem"
            )
        epoch = epochs.pop()
        assert epoch is not None
        self._check_redeemable(epoch)
        out_keyset = self._check_outputs(outputs, SAT)
        assert out_keyset is not None
        signed = self._sign(out_keyset, outputs)
        spends = [row for _, _, row in checked]
        amounts = [p.amount for p, _, _ in checked]
        with self.store.transaction():
            info = self._check_redeemable(epoch)
            self._check_unspent(spends, signed)
            assert info.price is not None and info.theta_c is not None
            try:
                payout = check_redeem(
                    amounts, [o.amount for o in outputs], info.price, info.paid, info.theta_c
                )
            except AccountingError as exc:
                raise MintError("outputs-exceed-value", str(exc)) from None
            now = now_s()
            self.store.spend(spends, now)
            self.store.add_signatures([s.row for s in signed])
            self.store.update_epoch(epoch, paid=info.paid + payout)
            self.store.add_redemption(epoch, dict(Counter(amounts)), payout, now)
        return [s.to_model() for s in signed]

    def _check_redeemable(self, epoch: int) -> EpochInfo:
        info = self.epoch(epoch)
        if info.status == "lost":
            raise MintError("epoch-lost", f"epoch {epoch} was lost; its ehash is worth nothing")
        if info.status == "orphaned":
            raise MintError(
                "epoch-orphaned", f"epoch {epoch} was orphaned by a reorg; its ehash is worth nothing"
            )
        if info.status != "mature":
            raise MintError(
                "epoch-not-redeemable", f"epoch {epoch} is {info.status}; redeem once its block is mature"
            )
        return info

    # -- NUT-07 / NUT-09 ------------------------------------------------------------------------

    def check_state(self, ys: Sequence[str]) -> list[dict[str, Any]]:
        if len(ys) > MAX_INPUTS:
            raise MintError("too-many-proofs", f"{len(ys)} Ys; at most {MAX_INPUTS} per request")
        try:
            raw = [bdhke.parse_point(y).format() for y in ys]
        except bdhke.CryptoError as exc:
            raise MintError("malformed-request", f"a Y is not a point: {exc}") from None
        states = self.store.proof_states(raw)
        out = []
        for y, key in zip(ys, raw, strict=True):
            state, witness = states.get(key, ("UNSPENT", None))
            out.append({"Y": y, "state": state, "witness": witness})
        return out

    def restore(self, outputs: Sequence[BlindedMessage]) -> tuple[list[BlindedMessage], list[BlindSignature]]:
        if len(outputs) > MAX_OUTPUTS:
            raise MintError("too-many-outputs", f"{len(outputs)} outputs; at most {MAX_OUTPUTS} per request")
        found = self.store.signatures_for([bytes.fromhex(o.B_) for o in outputs])
        outs, sigs = [], []
        for o in outputs:
            row = found.get(bytes.fromhex(o.B_))
            if row is not None:
                outs.append(BlindedMessage(row.amount, row.keyset_id, o.B_))
                sigs.append(_Signed(o, row).to_model())
        return outs, sigs

    # -- minting over Lightning (NUT-04/23) -----------------------------------------------------

    @staticmethod
    def _check_unit(unit: str) -> None:
        if unit != SAT:
            raise MintError("unit-unsupported", f"unit {unit!r} is not supported; use sat")

    def create_mint_quote(
        self, amount: int, unit: str, description: str | None = None, pubkey: str | None = None
    ) -> dict[str, Any]:
        self._check_unit(unit)
        if not 0 < amount <= MAX_MINT_SAT:
            raise MintError("amount-out-of-range", f"amount must be 1..{MAX_MINT_SAT} sat")
        if pubkey is not None:
            try:
                bdhke.parse_point(pubkey)
            except bdhke.CryptoError as exc:
                raise MintError("malformed-request", f"pubkey: {exc}") from None
        invoice = self.lightning.create_invoice(amount * 1000, description or "nutx mint", QUOTE_EXPIRY_S)
        row: dict[str, Any] = {
            "quote": str(uuid.uuid4()),
            "method": "bolt11",
            "request": invoice.request,
            "payment_hash": invoice.payment_hash,
            "amount": amount,
            "unit": unit,
            "state": "UNPAID",
            "expiry": invoice.expiry,
            "pubkey": pubkey,
            "created_at": now_s(),
        }
        with self.store.transaction():
            self.store.add_mint_quote(row)
        return self._mint_quote_json(row)

    @staticmethod
    def _mint_quote_json(row: dict[str, Any]) -> dict[str, Any]:
        return {
            k: row[k] for k in ("quote", "method", "request", "amount", "unit", "state", "expiry", "pubkey")
        }

    def _mint_quote_row(self, quote: str) -> dict[str, Any]:
        row = self.store.mint_quote(quote)
        if row is None:
            raise MintError("unknown-quote", f"no mint quote {quote!r}")
        if row["state"] == "UNPAID" and self.lightning.invoice_paid(row["payment_hash"]):
            with self.store.transaction():
                self.store.set_mint_quote_state(quote, "PAID")
            row["state"] = "PAID"
        return row

    def mint_quote(self, quote: str) -> dict[str, Any]:
        return self._mint_quote_json(self._mint_quote_row(quote))

    def mint(
        self, quote: str, outputs: Sequence[BlindedMessage], signature: str | None = None
    ) -> list[BlindSignature]:
        row = self._mint_quote_row(quote)
        if row["state"] == "UNPAID":
            if _expired(row):
                raise MintError(
                    "quote-expired", "the invoice of this quote expired unpaid; ask for a new quote"
                )
            raise MintError("quote-not-paid", "the invoice of this quote is not paid yet")
        if row["state"] == "ISSUED":
            raise MintError("quote-already-issued", "this quote was already minted")
        if row["pubkey"]:
            self._check_quote_signature(quote, row["pubkey"], outputs, signature)
        if not outputs:
            raise MintError("malformed-request", "no outputs")
        keyset = self._check_outputs(outputs, SAT)
        assert keyset is not None
        if sum(o.amount for o in outputs) != row["amount"]:
            raise MintError(
                "transaction-unbalanced", f"outputs must add up to the quote's {row['amount']} sat"
            )
        signed = self._sign(keyset, outputs)
        with self.store.transaction():
            state = self.store.mint_quote(quote)["state"]  # type: ignore[index]
            if state == "ISSUED":
                raise MintError("quote-already-issued", "this quote was already minted")
            self._check_unspent([], signed)
            self.store.add_signatures([s.row for s in signed])
            self.store.set_mint_quote_state(quote, "ISSUED")
        return [s.to_model() for s in signed]

    @staticmethod
    def _check_quote_signature(
        quote: str, pubkey: str, outputs: Sequence[BlindedMessage], signature: str | None
    ) -> None:
        """NUT-20: a BIP340 signature by the quote's pubkey over the request.

        Two message forms are in use: the spec's SHA256(quote || B_0 hex || …) and the length-prefixed
        `Cashu_MintQuoteSig_v1` form the reference wallet 0.21 signs; either is accepted.
        """
        if not signature:
            raise MintError("quote-signature-invalid", "this quote is locked to a pubkey: sign the request")
        legacy = hashlib.sha256((quote + "".join(o.B_ for o in outputs)).encode()).digest()
        tagged = b"Cashu_MintQuoteSig_v1" + _length_prefixed(quote.encode())
        for o in outputs:
            tagged += _length_prefixed(o.amount.to_bytes((o.amount.bit_length() + 7) // 8, "big"))
            tagged += _length_prefixed(bytes.fromhex(o.B_))
        try:
            key = PublicKeyXOnly(bytes.fromhex(pubkey)[1:])
            sig = bytes.fromhex(signature)
            ok = any(key.verify(sig, m) for m in (hashlib.sha256(tagged).digest(), legacy))
        except ValueError:
            ok = False
        if not ok:
            raise MintError("quote-signature-invalid", "the mint request signature does not verify")

    # -- melting over Lightning (NUT-05/08/23) --------------------------------------------------

    def create_melt_quote(self, request: str, unit: str) -> dict[str, Any]:
        self._check_unit(unit)
        invoice = self._decode(request)
        if invoice.amount_msat is None:
            raise MintError("amountless-invoice", "invoices without an amount are not supported")
        if self.store.payment_melt_state(invoice.payment_hash) == "PAID":
            raise MintError("invoice-already-paid", "this invoice was already paid")
        amount = -(-invoice.amount_msat // 1000)
        fee_reserve = -(-self.lightning.fee_reserve_msat(invoice.amount_msat) // 1000)
        row: dict[str, Any] = {
            "quote": str(uuid.uuid4()),
            "method": "bolt11",
            "request": request,
            "payment_hash": invoice.payment_hash,
            "amount": amount,
            "unit": unit,
            "fee_reserve": fee_reserve,
            "state": "UNPAID",
            "expiry": invoice.expiry,
            "created_at": now_s(),
        }
        with self.store.transaction():
            self.store.add_melt_quote(row)
        return self.melt_quote(row["quote"])

    def _check_payment_free(self, payment_hash: str) -> None:
        """An invoice has at most one melt in flight or paid, whichever quote and request it came from.

        Called inside the transaction that marks a quote PENDING, so concurrent melts are decided one by one.
        """
        state = self.store.payment_melt_state(payment_hash)
        if state == "PAID":
            raise MintError("invoice-already-paid", "this invoice was already paid")
        if state == "PENDING":
            raise MintError("quote-pending", "another melt of this invoice is being paid")

    def _decode(self, request: str) -> Invoice:
        try:
            return self.lightning.decode(request)
        except LightningError as exc:
            raise MintError("malformed-request", str(exc)) from None

    def _melt_quote_row(self, quote: str) -> dict[str, Any]:
        row = self.store.melt_quote(quote)
        if row is None:
            raise MintError("unknown-quote", f"no melt quote {quote!r}")
        return row

    def melt_quote(self, quote: str) -> dict[str, Any]:
        row = self._melt_quote_row(quote)
        out = {
            k: row[k]
            for k in (
                "quote",
                "method",
                "request",
                "amount",
                "unit",
                "fee_reserve",
                "state",
                "expiry",
                "payment_preimage",
            )
        }
        if row["change"]:
            out["change"] = row["change"]
        return out

    def melt(
        self, quote: str, inputs: Sequence[Proof], outputs: Sequence[BlindedMessage] = ()
    ) -> dict[str, Any]:
        """Pay the quote's invoice with `sat` proofs; overpaid fees come back as change on blank outputs."""
        row = self._melt_quote_row(quote)
        if row["state"] == "PAID":
            raise MintError("invoice-already-paid", "this quote is already paid")
        if row["state"] == "PENDING":
            raise MintError("quote-pending", "this quote is being paid")
        if _expired(row):
            raise MintError("quote-expired", "the invoice of this quote has expired; ask for a new quote")
        checked = self._check_inputs(inputs)
        if any(keyset.unit != row["unit"] for _, keyset, _ in checked):
            raise MintError("unit-mismatch", f"melt inputs must be {row['unit']}")
        change_keyset = self._check_outputs(outputs, row["unit"], allow_zero=True)
        fee = self._fees(keyset for _, keyset, _ in checked)
        total_in = sum(p.amount for p, _, _ in checked)
        needed = row["amount"] + row["fee_reserve"]
        if total_in - fee < needed:
            raise MintError(
                "transaction-unbalanced", f"inputs {total_in} − fee {fee} < amount + fee reserve {needed}"
            )
        spends = [r for _, _, r in checked]
        with self.store.transaction():
            if self._melt_quote_row(quote)["state"] != "UNPAID":
                raise MintError("quote-pending", "this quote is being paid")
            self._check_payment_free(row["payment_hash"])
            self._check_unspent(spends, [])
            if outputs and self.store.signed_among([bytes.fromhex(o.B_) for o in outputs]):
                raise MintError("blinded-message-reused", "a blank output B_ was signed before")
            self.store.add_pending(spends, quote, now_s())
            self.store.update_melt_quote(quote, state="PENDING")
        payment = self.lightning.pay_invoice(self._decode(row["request"]), row["fee_reserve"] * 1000)
        if not payment.ok:
            with self.store.transaction():
                self.store.drop_pending(quote)
                self.store.update_melt_quote(quote, state="UNPAID")
            raise MintError("lightning-payment-failed", f"the Lightning payment failed: {payment.error}")
        fee_paid = -(-payment.fee_msat // 1000)
        change_amounts = amount_split(total_in - fee - row["amount"] - fee_paid)[: len(outputs)]
        signed: list[_Signed] = []
        if change_keyset is not None and change_amounts:
            signed = self._sign(change_keyset, outputs[: len(change_amounts)], change_amounts)
        with self.store.transaction():
            already = self.store.signed_among([s.row.B_ for s in signed])
            signed = [s for s in signed if s.row.B_ not in already]
            self.store.drop_pending(quote)
            self.store.spend(spends, now_s())
            self.store.add_signatures([s.row for s in signed])
            self.store.update_melt_quote(
                quote,
                state="PAID",
                payment_preimage=payment.preimage,
                fee_paid=fee_paid,
                change=[s.to_model().to_json() for s in signed] or None,
            )
        return self.melt_quote(quote)

    # -- summaries ----------------------------------------------------------------------------

    def liabilities(self) -> dict[str, int]:
        """Outstanding ecash per unit: Σ issued − Σ burned (spent or melted)."""
        issued = self.store.issued_by_keyset()
        spent = self.store.spent_by_keyset()
        out: dict[str, int] = {SAT: 0, EHASH: 0}
        for keyset_id, keyset in self._keysets.items():
            out[keyset.unit] = out.get(keyset.unit, 0) + issued.get(keyset_id, 0) - spent.get(keyset_id, 0)
        return out

    def summary_json(self) -> dict[str, Any]:
        """What `nutx mint info` prints: keysets, epochs and liabilities."""
        return {
            "network": self.network,
            "keysets": [self._keyset_json(k) for k in self.sat_keysets()]
            + self.mining_keysets_json()["keysets"],
            "epochs": [e.to_json() for e in self.epochs()],
            "liabilities": self.liabilities(),
            "redeemed_sat": sum(e.paid for e in self.epochs()),
            "orphaned_paid_sat": sum(e.paid for e in self.epochs() if e.status == "orphaned"),
            "melted_sat": self.store.melted_by_unit().get(SAT, 0),
        }

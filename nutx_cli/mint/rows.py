"""The rows of the mint's store: what `MintStore` takes and gives back, as typed values.

They are the store's interface (a PostgreSQL store would take and give the same rows); nothing
here knows SQL. Amounts are ints of any size up to 2^63 (the store keeps their log2).
"""

from __future__ import annotations

from dataclasses import dataclass

from nutx_cli.core.bdhke import BlindSig
from nutx_cli.core.epoch_status import EpochStatus
from nutx_cli.core.models import BlindedMessage, BlindSignature
from nutx_cli.core.vocabulary import MeltQuoteState, MintQuoteState


@dataclass(frozen=True, slots=True)
class KeysetRow:
    """A keyset the mint derived: (unit, idx) names its derivation; `epoch` is set for ehash keysets."""

    id: str
    unit: str
    idx: int
    epoch: int | None
    input_fee_ppk: int


@dataclass(frozen=True, slots=True)
class SignatureRow:
    """One issued blind signature of B_ (NUT-09 needs all of them); `share` marks work-ledger rows."""

    B_: bytes
    sig: BlindSig
    amount: int
    keyset_id: str
    share: bool = False


@dataclass(frozen=True, slots=True)
class SpendRow:
    """A proof burned (or locked as pending) by its identity Y."""

    Y: bytes
    amount: int
    keyset_id: str
    witness: str | None = None


@dataclass(frozen=True, slots=True)
class MintQuoteRow:
    """A NUT-04 bolt11 mint quote; `pubkey` locks it to a key (NUT-20)."""

    quote: str
    method: str
    request: str
    payment_hash: str
    amount: int
    unit: str
    state: MintQuoteState
    expiry: int | None
    pubkey: str | None
    created_at: int


@dataclass(frozen=True, slots=True)
class MeltQuoteRow:
    """A NUT-05 bolt11 melt quote; once PAID it has the preimage, the fee paid and the NUT-08 change.

    `outputs` are the blank outputs a melt was sent with, for its change (also when settled after a restart)."""

    quote: str
    method: str
    request: str
    payment_hash: str
    amount: int
    unit: str
    fee_reserve: int
    state: MeltQuoteState
    expiry: int | None
    created_at: int
    payment_preimage: str | None = None
    fee_paid: int | None = None
    change: tuple[BlindSignature, ...] | None = None
    outputs: tuple[BlindedMessage, ...] | None = None


@dataclass(frozen=True, slots=True)
class EpochRow:
    """An epoch as stored: its start tip, its status, and the fields its closing and its block set."""

    epoch: int
    status: EpochStatus
    keyset_id: str
    k_max: int
    started_at: int
    start_hash: str
    start_height: int
    ended_at: int | None
    height: int | None
    block_hash: str | None
    theta_b: int | None
    mint_fee: int | None
    confirmations: int | None
    paid: int

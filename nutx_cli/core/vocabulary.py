"""The words mint, wallet, pool and TUI share about ecash: units, proof and quote states, request limits.

They are `StrEnum`s, so a value read from JSON or SQLite ("sat", "SPENT") compares equal to its member,
and a member goes onto the wire and into a database as its plain string.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Unit(StrEnum):
    """The Cashu units of a nutx mint: sats, and ehash (one unit = the expected work of a level-k_max share)."""

    SAT = "sat"
    EHASH = "ehash"


class ProofState(StrEnum):
    """NUT-07: what the mint knows of a proof's Y."""

    UNSPENT = "UNSPENT"
    PENDING = "PENDING"
    SPENT = "SPENT"


class MintQuoteState(StrEnum):
    """NUT-04: a mint quote's invoice is unpaid, paid (ecash may be minted) or issued (it was)."""

    UNPAID = "UNPAID"
    PAID = "PAID"
    ISSUED = "ISSUED"


class MeltQuoteState(StrEnum):
    """NUT-05: a melt quote's invoice is unpaid, being paid (proofs reserved) or paid."""

    UNPAID = "UNPAID"
    PENDING = "PENDING"
    PAID = "PAID"


MAX_PER_REQUEST = 1000
"""At most this many inputs, and this many outputs, in one mint request (DESIGN §5)."""


def sats_for_msat(msat: int) -> int:
    """Whole sats that cover `msat` millisatoshis, rounded up (an invoice of 1 msat costs 1 sat)."""
    return -(-msat // 1000)


def input_fee(fees_ppk: Iterable[int]) -> int:
    """NUT-02 fee of a request: Σ input_fee_ppk of its inputs' keysets (one term per input), rounded up."""
    return -(-sum(fees_ppk) // 1000)

"""The EPOCH JSON of DESIGN §5, one schema for its producer (the mint, through the pool) and its readers.

`GET /v1/mining/epochs[/{n}]`, the pool's admin stats and its `epoch` events all carry this object;
the mint writes it with `to_json`, the wallet's mint client and the TUI read it with `from_json`.
The wire form is fixed: keys never renamed, `price` as "num/den", `work_by_amount` keyed by the
amount in decimal. Readers ignore keys they do not know (the pool adds e.g. `age`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from nutx_cli.core.accounting import format_price, parse_price
from nutx_cli.core.epoch_status import EpochStatus
from nutx_cli.errors import NutxError

_PRICE = re.compile(r"[0-9]+/[1-9][0-9]*")
_AMOUNT = re.compile(r"[1-9][0-9]*")


class EpochJsonError(NutxError, ValueError):
    """An EPOCH object that does not have the shape of DESIGN §5; the message names the field."""


@dataclass(frozen=True)
class Epoch:
    """One epoch: its keyset, how it ended, its work W_e and, once won, its reward and price."""

    epoch: int
    status: EpochStatus
    keyset_id: str
    k_max: int
    started_at: int
    ended_at: int | None
    height: int | None
    """Height of the block that ended the epoch."""
    block_hash: str | None
    """The pool's block, if the epoch was won."""
    work: int
    """W_e: Σ amounts of the epoch's share signatures, in ehash units."""
    work_by_amount: dict[int, int]
    theta_b: int | None
    mint_fee: int | None
    theta_c: int | None
    price: Fraction | None
    """Sats per ehash unit."""
    confirmations: int | None
    paid: int
    """Sats redeemed so far."""

    def to_json(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "status": str(self.status),
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
    def from_json(cls, value: Any) -> Epoch:
        """Parse an EPOCH object; EpochJsonError says which field is missing or malformed."""
        if not isinstance(value, Mapping):
            raise EpochJsonError(f"an epoch must be a JSON object, got {type(value).__name__}")
        if value.get("epoch") is None:
            raise EpochJsonError("an epoch has no index")
        return cls(
            epoch=_int(value, "epoch"),
            status=_status(value.get("status")),
            keyset_id=_str(value, "keyset_id"),
            k_max=_int(value, "k_max"),
            started_at=_time(value, "started_at"),
            ended_at=_time(value, "ended_at", nullable=True),
            height=_int(value, "height", nullable=True),
            block_hash=_str(value, "block_hash", nullable=True),
            work=_int(value, "work"),
            work_by_amount=_work_by_amount(value.get("work_by_amount")),
            theta_b=_int(value, "theta_b", nullable=True),
            mint_fee=_int(value, "mint_fee", nullable=True),
            theta_c=_int(value, "theta_c", nullable=True),
            price=_price(value.get("price")),
            confirmations=_int(value, "confirmations", nullable=True),
            paid=_int(value, "paid"),
        )


def _int(d: Mapping[str, Any], key: str, *, nullable: bool = False) -> Any:
    value = d.get(key)
    if value is None and nullable:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise EpochJsonError(f"epoch {key} must be an integer{' or null' if nullable else ''}, got {value!r}")
    return value


def _time(d: Mapping[str, Any], key: str, *, nullable: bool = False) -> Any:
    """Whole unix seconds; a JSON writer may give them as 1700000000.0."""
    value = d.get(key)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value is None and nullable:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise EpochJsonError(
            f"epoch {key} must be whole unix seconds{' or null' if nullable else ''}, got {value!r}"
        )
    return value


def _str(d: Mapping[str, Any], key: str, *, nullable: bool = False) -> Any:
    value = d.get(key)
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise EpochJsonError(f"epoch {key} must be a string{' or null' if nullable else ''}, got {value!r}")
    return value


def _status(value: Any) -> EpochStatus:
    try:
        return EpochStatus(value)
    except ValueError:
        raise EpochJsonError(f"epoch status must be one of {', '.join(EpochStatus)}, got {value!r}") from None


def _price(value: Any) -> Fraction | None:
    if value is not None and not (isinstance(value, str) and _PRICE.fullmatch(value)):
        raise EpochJsonError(f'epoch price must be "num/den" or null, got {value!r}')
    return parse_price(value)


def _work_by_amount(value: Any) -> dict[int, int]:
    if not isinstance(value, Mapping):
        raise EpochJsonError(f"epoch work_by_amount must be a JSON object, got {value!r}")
    out = {}
    for amount, count in value.items():
        if not (isinstance(amount, str) and amount.isascii() and _AMOUNT.fullmatch(amount)):
            raise EpochJsonError(f"epoch work_by_amount keys must be amounts, got {amount!r}")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise EpochJsonError(f"epoch work_by_amount[{amount}] must be a count, got {count!r}")
        out[int(amount)] = count
    return dict(sorted(out.items()))

"""Epoch accounting and pricing (DESIGN.md §4): the work ledger, θ_C, the price and redeem payouts.

The price of a won epoch is θ_C / W_e sats per ehash unit, an exact Fraction. A redeem request is
paid floor(Σ amounts × price), summed exactly over the whole request and floored once, so the sum
of all payouts of an epoch never exceeds θ_C.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from nutx_cli.errors import NutxError


class AccountingError(NutxError, ValueError):
    """An amount or reward that cannot be accounted for."""


class OutputsExceedValue(AccountingError):
    """A redeem asks for more sats than its proofs are worth (DESIGN §5: outputs-exceed-value)."""


class Insolvent(AccountingError):
    """A payout would take an epoch's total paid above θ_C; refused whatever the cause."""


def check_amount(amount: int) -> int:
    """Amounts are positive integers below 2^64."""
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount < 2**64:
        raise AccountingError(f"amount must be a positive integer below 2^64, got {amount!r}")
    return amount


@dataclass
class WorkLedger:
    """W_e and the count of share signatures per amount for one epoch."""

    work_by_amount: dict[int, int] = field(default_factory=dict)

    def add(self, amount: int, count: int = 1) -> None:
        check_amount(amount)
        if count < 1:
            raise AccountingError(f"share count must be positive, got {count}")
        self.work_by_amount[amount] = self.work_by_amount.get(amount, 0) + count

    @property
    def work(self) -> int:
        return sum(amount * count for amount, count in self.work_by_amount.items())

    @classmethod
    def of(cls, counts: Mapping[int, int]) -> WorkLedger:
        ledger = cls()
        for amount, count in counts.items():
            if count:
                ledger.add(amount, count)
        return ledger


def theta_c(theta_b: int, mint_fee: int) -> int:
    """Ecash to mint for a won epoch: θ_C = θ_B − F_M, never negative."""
    if theta_b < 0 or mint_fee < 0:
        raise AccountingError("block reward and mint fee cannot be negative")
    return max(0, theta_b - mint_fee)


def epoch_price(theta_b: int, mint_fee: int, work: int) -> Fraction:
    """Sats per ehash unit of a won epoch: θ_C / W_e (0 when θ_B ≤ F_M or nothing was signed)."""
    if work < 0:
        raise AccountingError("work cannot be negative")
    reward = theta_c(theta_b, mint_fee)
    if work == 0 or reward == 0:
        return Fraction(0)
    return Fraction(reward, work)


def redeem_value(amounts: Iterable[int], price: Fraction) -> int:
    """floor(Σ amounts × price) for one request: exact sum first, one floor."""
    total = sum(check_amount(a) for a in amounts)
    if price < 0:
        raise AccountingError("price cannot be negative")
    return int(total * price)


def check_redeem(
    input_amounts: Iterable[int],
    output_amounts: Iterable[int],
    price: Fraction,
    paid_so_far: int,
    reward: int,
) -> int:
    """Validate a redeem and return the sats it pays (= Σ outputs).

    Outputs may ask for at most floor(Σ inputs × price); the epoch's total paid may never pass θ_C.
    """
    value = redeem_value(input_amounts, price)
    payout = sum(check_amount(a) for a in output_amounts)
    if payout > value:
        raise OutputsExceedValue(f"outputs ask for {payout} sat but the proofs are worth {value} sat")
    if paid_so_far + payout > reward:
        raise Insolvent(
            f"paying {payout} sat would take the epoch to {paid_so_far + payout} > θ_C = {reward}"
        )
    return payout


def format_price(price: Fraction | None) -> str | None:
    """The wire form of a price: "num/den" (DESIGN §5), or None when there is no price yet."""
    return None if price is None else f"{price.numerator}/{price.denominator}"


def parse_price(text: str | None) -> Fraction | None:
    if text is None:
        return None
    num, _, den = text.partition("/")
    return Fraction(int(num), int(den or 1))

"""Pure text forms of the dashboard's numbers: hashrates, difficulties, ages, sats, ehash and prices.

Every function takes plain values and returns a short string, so widgets stay free of arithmetic and
the forms are unit-tested on their own. Amounts are integers and prices exact fractions; only the
display rounds, and it rounds with integer arithmetic.
"""

from __future__ import annotations

import math
from fractions import Fraction

from nutx_cli.core.accounting import parse_price, redeem_value
from nutx_cli.core.epoch_status import EpochStatus

NONE = "—"
SATS_PER_BTC = 100_000_000
_SI = ["", "k", "M", "G", "T", "P", "E", "Z", "Y"]


def significant(value: float | Fraction, digits: int = 3) -> str:
    """`value` with `digits` significant digits, no exponent and no trailing zeros (for 0.01 … 999)."""
    number = float(value)
    if number == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(number))))
    text = f"{number:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def si(value: float | Fraction, unit: str = "") -> str:
    """`1234567` → `1.23 M` + unit: three significant digits with an SI prefix (k … Y)."""
    number = float(value)
    index = 0
    while abs(number) >= 999.5 and index < len(_SI) - 1:
        number /= 1000
        index += 1
    suffix = f"{_SI[index]}{unit}"
    return f"{significant(number)} {suffix}".rstrip()


def hashrate(hashes_per_second: float | Fraction | None) -> str:
    """`12345678.0` → `12.3 MH/s`."""
    if hashes_per_second is None:
        return NONE
    return si(hashes_per_second, "H/s")


def parse_fraction(text: str | float | None) -> Fraction | None:
    """The wire form of a difficulty or price ("num/den", or a plain number) as an exact fraction."""
    if text is None:
        return None
    if isinstance(text, (int, float)):
        return Fraction(text)
    return parse_price(text)


def _fraction_text(value: str | float | Fraction | None) -> str:
    """An exact ratio ("num/den" on the wire) as a readable number: tiny ones in e-notation, others with SI."""
    f = value if isinstance(value, Fraction) else parse_fraction(value)
    if f is None:
        return NONE
    if f == 0:
        return "0"
    if f < Fraction(1, 100):
        return f"{float(f):.2e}".replace("e-0", "e-")
    return si(f)


def difficulty(value: str | float | Fraction | None) -> str:
    """A difficulty as a readable number: `1/4096` → `2.44e-4`, `2**40` → `1.1 T`."""
    return _fraction_text(value)


def age(seconds: float | None) -> str:
    """How long ago, in the two largest units: `5s`, `3m 12s`, `2h 05m`, `3d 4h`."""
    if seconds is None:
        return NONE
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def ago(then: float | None, now: float) -> str:
    """`then` as an age relative to `now`: `3m 12s ago`."""
    return NONE if then is None else f"{age(now - then)} ago"


def sats(amount: int | None) -> str:
    """`1234567` → `1,234,567 sat` (exact)."""
    return NONE if amount is None else f"{amount:,} sat"


def btc(amount: int | None, unit: bool = True) -> str:
    """Sats as bitcoin, exact, trailing zeros dropped: `5000000000` → `50 BTC`, `312500000` → `3.125 BTC`."""
    if amount is None:
        return NONE
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(amount), SATS_PER_BTC)
    frac = f"{part:08d}".rstrip("0")
    return f"{sign}{whole:,}{'.' + frac if frac else ''}{' BTC' if unit else ''}"


def percent(part: int, whole: int | None) -> str:
    """`part` of `whole` as a whole percentage, rounded down (a payout never shows more than it is)."""
    return NONE if not whole else f"{part * 100 // whole}%"


def coins(amount: int | None) -> str:
    """The shortest exact form of an amount: sats below 0.01 BTC, bitcoin from there on."""
    if amount is None:
        return NONE
    return sats(amount) if abs(amount) < SATS_PER_BTC // 100 else btc(amount)


def ehash(amount: int | None) -> str:
    """Ehash units, SI-compact: `1234567` → `1.23 M`."""
    return NONE if amount is None else si(amount)


def price(value: str | Fraction | None) -> str:
    """Sats per ehash unit, three significant digits: `2.6`, `4.66e-3`."""
    return _fraction_text(value)


def estimated_sats(amount: int, value: str | Fraction | None) -> int | None:
    """What `amount` ehash would redeem for at `value` (floor(amount × price)); None while unpriced."""
    p = value if isinstance(value, Fraction) else parse_fraction(value)
    return None if p is None else redeem_value([amount], p)


def short_hash(text: str | None, head: int = 8, tail: int = 4) -> str:
    """`0000abcd…1234`: enough of a hash or key to tell it apart."""
    if not text:
        return NONE
    return text if len(text) <= head + tail + 1 else f"{text[:head]}…{text[-tail:]}"


STATUS_STYLES: dict[str, str] = {
    EpochStatus.OPEN: "bold cyan",
    EpochStatus.WON: "bold yellow",
    EpochStatus.MATURE: "bold green",
    EpochStatus.LOST: "red",
    EpochStatus.ORPHANED: "bold magenta",
}


def status_style(status: str) -> str:
    """The colour of an epoch status: open cyan, won (immature) yellow, mature green, lost red, orphaned magenta."""
    return STATUS_STYLES.get(status, "")


def anonymity_style(channels: int) -> str:
    """A level's anonymity set: one channel is identifiable (red), a few is weak (yellow), five+ is fine."""
    if channels <= 1:
        return "bold red"
    return "yellow" if channels < 5 else "green"

"""What mint quotes (NUT-04) and melt quotes (NUT-05) share: the unit, the quote id, the expiry rule."""

from __future__ import annotations

import time
import uuid

from nutx_cli.core.vocabulary import Unit
from nutx_cli.mint.errors import MintError
from nutx_cli.mint.lightning import Invoice, LightningBackend, LightningError

QUOTE_EXPIRY_S = 3600
METHOD = "bolt11"


def check_unit(unit: str) -> Unit:
    """Lightning moves sats only: ehash is earned by mining, never bought."""
    if unit != Unit.SAT:
        raise MintError("unit-unsupported", f"unit {unit!r} is not supported; use sat")
    return Unit.SAT


def new_quote_id() -> str:
    return str(uuid.uuid4())


def expired(expiry: int | None) -> bool:
    """A quote whose invoice can no longer be paid (NUT-04/05 `expiry`, unix seconds)."""
    return expiry is not None and int(time.time()) > expiry


def lightning_unavailable(exc: LightningError) -> MintError:
    """A request the backend could not serve (down, refused, or none configured); nothing was paid."""
    return MintError("lightning-unavailable", f"the mint's Lightning backend is unavailable: {exc}")


def decode(lightning: LightningBackend, request: str) -> Invoice:
    """A BOLT11 request of the mint's network, or malformed-request saying what is wrong with it."""
    try:
        return lightning.decode(request)
    except LightningError as exc:
        raise MintError("malformed-request", str(exc)) from None

"""What the mint says about itself: NUT-06 info, its liabilities, and the summary `nutx mint info` prints.

Liabilities are what the mint's ecash could claim: sat proofs 1:1, and ehash of a won or mature epoch at
the epoch's price (floor(outstanding × θ_C / W_e)), per epoch. Lost and orphaned ehash claims nothing; an
open epoch's has no price yet. `nutx mint info` sets them against the balance the Lightning backend
reports, which is what melts are paid from.
"""

from __future__ import annotations

import math
import time
from typing import Any

from nutx_cli import __version__
from nutx_cli.core.epoch_json import Epoch
from nutx_cli.core.epoch_status import DEAD, EpochStatus
from nutx_cli.core.vocabulary import Unit
from nutx_cli.mint.epochs import MintEpochs
from nutx_cli.mint.keysets import MintKeysets
from nutx_cli.mint.mint_quotes import MAX_MINT_SAT
from nutx_cli.mint.store import MintStore


def info_json(pubkey: str, network: str, *, lightning: bool = True) -> dict[str, Any]:
    """GET /v1/info (NUT-06); without a Lightning backend NUT-04 and NUT-05 are disabled."""
    method = {"method": "bolt11", "unit": Unit.SAT, "min_amount": 1, "max_amount": MAX_MINT_SAT}
    return {
        "name": "nutx mint",
        "pubkey": pubkey,
        "version": f"nutx/{__version__}",
        "description": f"nutx mining pool mint ({network}); ehash epochs at /v1/mining/epochs",
        "contact": [],
        "time": int(time.time()),
        "nuts": {
            "4": {"methods": [{**method, "options": {"description": True}}], "disabled": not lightning},
            "5": {"methods": [{**method, "options": {"amountless": False}}], "disabled": not lightning},
            "7": {"supported": True},
            "8": {"supported": True},
            "9": {"supported": True},
            "12": {"supported": True},
            "20": {"supported": True},
        },
    }


def liabilities(store: MintStore, keysets: MintKeysets) -> dict[str, int]:
    """Outstanding ecash per unit: Σ issued − Σ burned (spent or melted)."""
    issued = store.issued_by_keyset()
    spent = store.spent_by_keyset()
    out: dict[str, int] = {Unit.SAT: 0, Unit.EHASH: 0}
    for keyset in keysets.all():
        out[keyset.unit] = out.get(keyset.unit, 0) + issued.get(keyset.id, 0) - spent.get(keyset.id, 0)
    return out


def epoch_liabilities(store: MintStore, epochs: list[Epoch]) -> list[dict[str, Any]]:
    """Per epoch: its outstanding ehash and, once it has a price, the sats that ehash redeems for."""
    issued = store.issued_by_keyset()
    spent = store.spent_by_keyset()
    out = []
    for e in epochs:
        ehash = issued.get(e.keyset_id, 0) - spent.get(e.keyset_id, 0)
        worth = None
        if e.status in DEAD:
            worth = 0
        elif e.price is not None:
            worth = math.floor(ehash * e.price)
        out.append({"epoch": e.epoch, "status": e.status, "ehash": ehash, "sat": worth})
    return out


def summary_json(
    network: str,
    store: MintStore,
    keysets: MintKeysets,
    epochs: MintEpochs,
    lightning_balance_msat: int | None = None,
) -> dict[str, Any]:
    """What `nutx mint info` prints: keysets, epochs, liabilities per unit and per epoch, and the
    Lightning balance they are set against (None when no backend reported one)."""
    all_epochs = epochs.all()
    owed = liabilities(store, keysets)
    per_epoch = epoch_liabilities(store, all_epochs)
    return {
        "network": network,
        "keysets": [keysets.keyset_json(k) for k in keysets.sat_keysets()]
        + keysets.mining_keysets_json(all_epochs)["keysets"],
        "epochs": [e.to_json() for e in all_epochs],
        "liabilities": owed,
        "epoch_liabilities": per_epoch,
        "owed_sat": owed[Unit.SAT] + sum(e["sat"] or 0 for e in per_epoch),
        "lightning_balance_sat": None if lightning_balance_msat is None else lightning_balance_msat // 1000,
        "redeemed_sat": sum(e.paid for e in all_epochs),
        "orphaned_paid_sat": sum(e.paid for e in all_epochs if e.status == EpochStatus.ORPHANED),
        "melted_sat": store.melted_by_unit().get(Unit.SAT, 0),
    }

"""What the mint says about itself: NUT-06 info, its liabilities, and the summary `nutx mint info` prints."""

from __future__ import annotations

import time
from typing import Any

from nutx_cli import __version__
from nutx_cli.core.epoch_status import EpochStatus
from nutx_cli.core.nut17 import SubscriptionKind
from nutx_cli.core.vocabulary import Unit
from nutx_cli.mint.epochs import MintEpochs
from nutx_cli.mint.keysets import MintKeysets
from nutx_cli.mint.mint_quotes import MAX_MINT_SAT
from nutx_cli.mint.quotes import METHOD
from nutx_cli.mint.store import MintStore


def info_json(pubkey: str, network: str, cached: dict[str, Any]) -> dict[str, Any]:
    """GET /v1/info (NUT-06); NUT-17 lists nutx's `ehash_epoch` kind under the pseudo-method "mining"."""
    method = {"method": METHOD, "unit": Unit.SAT, "min_amount": 1, "max_amount": MAX_MINT_SAT}
    return {
        "name": "nutx mint",
        "pubkey": pubkey,
        "version": f"nutx/{__version__}",
        "description": f"nutx mining pool mint ({network}); ehash epochs at /v1/mining/epochs",
        "contact": [],
        "time": int(time.time()),
        "nuts": {
            "4": {"methods": [{**method, "options": {"description": True}}], "disabled": False},
            "5": {"methods": [{**method, "options": {"amountless": False}}], "disabled": False},
            "7": {"supported": True},
            "8": {"supported": True},
            "9": {"supported": True},
            "10": {"supported": True},
            "11": {"supported": True},
            "12": {"supported": True},
            "14": {"supported": True},
            "17": {
                "supported": [
                    {
                        "method": METHOD,
                        "unit": Unit.SAT,
                        "commands": [
                            SubscriptionKind.BOLT11_MINT_QUOTE,
                            SubscriptionKind.BOLT11_MELT_QUOTE,
                            SubscriptionKind.PROOF_STATE,
                        ],
                    },
                    {
                        "method": "mining",
                        "unit": Unit.EHASH,
                        "commands": [SubscriptionKind.PROOF_STATE, SubscriptionKind.EHASH_EPOCH],
                    },
                ]
            },
            "19": cached,
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


def summary_json(network: str, store: MintStore, keysets: MintKeysets, epochs: MintEpochs) -> dict[str, Any]:
    """What `nutx mint info` prints: keysets, epochs and liabilities."""
    all_epochs = epochs.all()
    return {
        "network": network,
        "keysets": [keysets.keyset_json(k) for k in keysets.sat_keysets()]
        + keysets.mining_keysets_json(all_epochs)["keysets"],
        "epochs": [e.to_json() for e in all_epochs],
        "liabilities": liabilities(store, keysets),
        "redeemed_sat": sum(e.paid for e in all_epochs),
        "orphaned_paid_sat": sum(e.paid for e in all_epochs if e.status == EpochStatus.ORPHANED),
        "melted_sat": store.melted_by_unit().get(Unit.SAT, 0),
    }

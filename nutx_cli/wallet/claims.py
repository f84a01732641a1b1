"""Claimed ehash (DESIGN §4): what a miner without the ecash extension mined under this wallet's key.

The wallet's claim key comes from its seed (`core.claims.claim_secret`), so `nutx wallet pubkey` prints the
same key after a restore. `claim` asks the mint for the key's claims and mints each payable one (its
epoch won or mature, not paid yet) as ehash of that epoch, with fresh outputs from the seed's counters in
the epoch's keyset and a request signed by the key. The counters advance on disk before the request
leaves, so a claim whose answer was lost is found again by `restore` (NUT-09) like any other ehash.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nutx_cli.core.claims import claim_amounts, claimable, sign_claim
from nutx_cli.core.vocabulary import Unit
from nutx_cli.wallet.client import MintClient, MintRefused
from nutx_cli.wallet.keysets import Keysets
from nutx_cli.wallet.outputs import Outputs
from nutx_cli.wallet.store import UNSPENT, StoredProof, WalletStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claimed:
    """One claim minted: `amount` ehash of `epoch`."""

    epoch: int
    amount: int


class Claimer:
    """Mints the claims of one wallet's key."""

    def __init__(
        self, store: WalletStore, keysets: Keysets, outputs: Outputs, secret: bytes, pubkey: str
    ) -> None:
        self.store = store
        self.keysets = keysets
        self.outputs = outputs
        self._secret = secret
        self.pubkey = pubkey

    async def claim(self, client: MintClient) -> list[Claimed]:
        """Mint every payable claim of this wallet's key; returns what was minted, oldest epoch first."""
        claims = [
            c for c in await client.claims(self.pubkey) if not c.paid and claimable(c.status) and c.amount
        ]
        if not claims:
            return []
        await self.keysets.learn_epochs(client)  # the epochs' keysets, so the ehash is filed under its epoch
        minted = []
        for c in sorted(claims, key=lambda c: c.epoch):
            keys = await self.keysets.keys(client, c.keyset_id)
            outputs = sorted(self.outputs.fresh(c.keyset_id, claim_amounts(c.amount)), key=lambda o: o.amount)
            messages = [o.message() for o in outputs]
            try:
                sigs = await client.claim(
                    self.pubkey, c.epoch, messages, sign_claim(self._secret, c.epoch, messages)
                )
            except MintRefused as exc:
                if exc.name != "claim-already-paid":
                    raise
                log.warning(
                    "the claim of epoch %d was paid meanwhile; `nutx wallet restore` finds its ehash", c.epoch
                )
                continue
            proofs, failed = self.outputs.unblind_all(outputs, sigs, keys, "claim")
            with self.store.transaction():
                self.store.add_proofs(StoredProof(p, Unit.EHASH, c.epoch, UNSPENT) for p in proofs)
                self.store.add_history("claim", Unit.EHASH, sum(p.amount for p in proofs), c.epoch, {})
            self.outputs.check_failures(failed, "claim")
            minted.append(Claimed(c.epoch, c.amount))
        return minted

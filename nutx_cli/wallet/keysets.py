"""The mint's keysets as this wallet knows them: keys fetched once, checked against their id, cached.

A keyset id is a hash of its keys (NUT-02), so keys that do not hash to the id they were asked for
are a mint lying about its keys: refused. The ehash keysets carry their epoch and its status as the
mint last listed them; input fees (NUT-02 `input_fee_ppk`) are read from the cached rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from nutx_cli.core.keysets import keyset_id_v00, keyset_id_v01
from nutx_cli.core.vocabulary import Unit, input_fee
from nutx_cli.wallet.client import EpochKeyset, KeysetInfo, MintClient
from nutx_cli.wallet.errors import WalletError
from nutx_cli.wallet.store import KeysetRow, StoredProof, WalletStore


class Keysets:
    """The keyset cache of one wallet, refreshed from its mint on demand."""

    def __init__(self, store: WalletStore, mint_url: str) -> None:
        self.store = store
        self.mint_url = mint_url

    async def keys(self, client: MintClient, keyset_id: str) -> dict[int, bytes]:
        """The keyset's public keys: cached, or fetched and checked against the keyset id."""
        row = self.store.keyset(keyset_id)
        if row is not None and row.keys:
            return row.keys
        fetched = await client.keys(keyset_id)
        derived = (
            keyset_id_v00(fetched.keys)
            if keyset_id.startswith("00")
            else keyset_id_v01(fetched.keys, fetched.unit, fetched.input_fee_ppk, fetched.final_expiry)
        )
        if derived != keyset_id or fetched.id != keyset_id:
            raise WalletError(
                f"the mint's keys do not hash to keyset id {keyset_id}: refusing a mint "
                f"that lies about its keys"
            )
        with self.store.transaction():
            self.store.upsert_keyset(
                keyset_id,
                fetched.unit,
                epoch=row.epoch if row else None,
                active=fetched.active,
                input_fee_ppk=fetched.input_fee_ppk,
                keys=fetched.keys,
            )
        return fetched.keys

    def remember(self, listed: Sequence[KeysetInfo]) -> None:
        """Store the sat keysets of GET /v1/keysets (their keys come later, when first needed)."""
        with self.store.transaction():
            for k in listed:
                self.store.upsert_keyset(
                    k.id, Unit.SAT, epoch=None, active=k.active, input_fee_ppk=k.input_fee_ppk
                )

    async def sat_keyset(self, client: MintClient) -> KeysetRow:
        """The mint's active sat keyset (keys loaded)."""
        active = [k for k in await client.keysets() if k.unit == Unit.SAT and k.active]
        if not active:
            raise WalletError(f"the mint at {self.mint_url} has no active sat keyset")
        self.remember(active[:1])
        await self.keys(client, active[0].id)
        row = self.store.keyset(active[0].id)
        assert row is not None
        return row

    async def learn_epochs(self, client: MintClient) -> list[EpochKeyset]:
        """Refresh every ehash keyset the mint lists (epoch, status) and return the list."""
        listed = await client.mining_keysets()
        with self.store.transaction():
            for k in listed:
                self.store.upsert_keyset(
                    k.id,
                    Unit.EHASH,
                    epoch=k.epoch,
                    active=k.active,
                    input_fee_ppk=k.input_fee_ppk,
                    status=k.status,
                )
        return listed

    async def fee(self, client: MintClient, proofs: Sequence[StoredProof]) -> int:
        """The mint's input fee for spending `proofs`: Σ input_fee_ppk per proof, rounded up to a sat."""
        fee_ppk: dict[str, int] = {}
        for keyset_id in {p.proof.id for p in proofs}:
            row = self.store.keyset(keyset_id)
            if row is None or row.keys is None:
                await self.keys(client, keyset_id)
                row = self.store.keyset(keyset_id)
            assert row is not None
            fee_ppk[keyset_id] = row.input_fee_ppk
        return input_fee(fee_ppk[p.proof.id] for p in proofs)

"""Cashu tokens: sending proofs as a cashuB token, and receiving a token by swapping its proofs.

Sent proofs stay in the wallet as `reserved` (they belong to the receiver once swapped). A received
proof that carries a NUT-12 DLEQ proof must verify against the mint's published key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from nutx_cli.core import bdhke
from nutx_cli.core.epoch_status import DEAD, worthless_epoch
from nutx_cli.core.keysets import amount_split
from nutx_cli.core.models import Proof
from nutx_cli.core.tokens import Token, TokenError, decode_token, encode_token_v4, resolve_short_ids
from nutx_cli.core.vocabulary import Unit
from nutx_cli.wallet.client import MintClient, MintRefused
from nutx_cli.wallet.errors import WalletError
from nutx_cli.wallet.inputs import Inputs, select_proofs
from nutx_cli.wallet.keysets import Keysets
from nutx_cli.wallet.store import PENDING, RESERVED, StoredProof, WalletStore
from nutx_cli.wallet.vocabulary import per_request


class Received(NamedTuple):
    """What a received token was worth to this wallet (after the mint's input fee)."""

    unit: str
    amount: int
    epoch: int | None


def check_token_dleq(proofs: Sequence[Proof], keys: dict[int, bytes]) -> None:
    """NUT-12: a received proof that carries a DLEQ must verify (else the mint may be tagging it)."""
    for p in proofs:
        K = keys.get(p.amount)
        if K is None:
            raise WalletError(f"the token has a proof of amount {p.amount}, which its keyset has no key for")
        if p.dleq is None or p.dleq.r is None:
            continue
        try:
            ok = bdhke.verify_proof_dleq(
                K,
                p.secret,
                bytes.fromhex(p.C),
                bytes.fromhex(p.dleq.r),
                bytes.fromhex(p.dleq.e),
                bytes.fromhex(p.dleq.s),
            )
        except bdhke.CryptoError:
            ok = False
        if not ok:
            raise WalletError(
                "a proof in the token fails its DLEQ check: it was not signed with the mint's "
                "published key; refusing it"
            )


class Tokens:
    """Sends and receives the tokens of one wallet (of the mint at `mint_url`)."""

    def __init__(self, store: WalletStore, keysets: Keysets, inputs: Inputs, mint_url: str) -> None:
        self.store = store
        self.keysets = keysets
        self.inputs = inputs
        self.mint_url = mint_url

    async def send(
        self, client: MintClient, amount: int, unit: str, epoch: int | None, memo: str | None
    ) -> str:
        """A cashuB token worth exactly `amount` (swapping for change when needed)."""
        if amount <= 0:
            raise WalletError("the amount to send must be positive")
        if unit == Unit.EHASH and epoch is None:
            raise WalletError("ehash of different epochs has different prices: pass --epoch E")
        if unit not in (Unit.SAT, Unit.EHASH):
            raise WalletError(f"unknown unit {unit!r}: use sat or ehash")
        proofs = self.store.proofs(unit=unit, epoch=epoch if unit == Unit.EHASH else None)
        chosen, exact = select_proofs(proofs, amount)
        if not exact:
            if unit == Unit.EHASH:
                assert epoch is not None
                keyset = self.store.keyset_for_epoch(epoch)
                if keyset is None:
                    raise WalletError(f"the wallet knows no keyset of epoch {epoch}")
            else:
                keyset = await self.keysets.sat_keyset(client)
            fee = await self.keysets.fee(client, chosen)
            change = sum(p.amount for p in chosen) - amount - fee
            if change < 0:
                chosen, _ = select_proofs(proofs, amount + fee + 1)
                fee = await self.keysets.fee(client, chosen)
                change = sum(p.amount for p in chosen) - amount - fee
            new = await self.inputs.swap(
                client, chosen, keyset, amount_split(amount) + amount_split(change), unit, epoch
            )
            chosen, _ = select_proofs(new, amount)
        with self.store.transaction():
            self.store.set_proof_state([p.proof.Y for p in chosen], RESERVED)
            self.store.add_history("send", unit, amount, epoch, {"proofs": len(chosen)})
        return encode_token_v4(Token(self.mint_url, unit, [p.proof for p in chosen], memo))

    async def receive(self, client: MintClient, token_text: str) -> Received:
        """Swap a token's proofs for fresh ones of this wallet."""
        try:
            token = decode_token(token_text)
        except TokenError as exc:
            raise WalletError(f"cannot read the token: {exc}") from None
        if token.mint.rstrip("/") != self.mint_url:
            raise WalletError(
                f"the token is from the mint {token.mint}, this wallet uses {self.mint_url}; "
                f"receive it with a wallet of that mint (--wallet-dir, --mint)"
            )
        await self.keysets.learn_epochs(client)
        sat_keysets = await client.keysets()
        known = [k.id for k in sat_keysets] + [k.id for k in self.store.keysets(Unit.EHASH)]
        try:
            token = resolve_short_ids(token, known)
        except TokenError as exc:
            raise WalletError(str(exc)) from None
        self.keysets.remember(sat_keysets)
        groups: dict[str, list[Proof]] = {}
        for p in token.proofs:
            groups.setdefault(p.id, []).append(p)
        epoch: int | None = None
        total = 0
        for keyset_id, proofs in groups.items():
            row = self.store.keyset(keyset_id)
            if row is None or row.unit != token.unit:
                raise WalletError(
                    f"keyset {keyset_id} of the token is not a {token.unit} keyset of this mint"
                )
            if row.unit == Unit.EHASH and row.epoch is not None and row.status in DEAD:
                raise WalletError(f"the token holds {worthless_epoch(row.epoch, row.status)}")
            keys = await self.keysets.keys(client, keyset_id)
            check_token_dleq(proofs, keys)
            target = row if row.unit == Unit.EHASH else await self.keysets.sat_keyset(client)
            epoch = row.epoch if row.unit == Unit.EHASH else None
            for batch in per_request(proofs):
                inputs = [StoredProof(p, row.unit, epoch, PENDING) for p in batch]
                with self.store.transaction():
                    self.store.add_proofs(inputs)
                value = sum(p.amount for p in batch) - await self.keysets.fee(client, inputs)
                if value <= 0:
                    raise WalletError("the token is worth less than the mint's input fee")
                try:
                    await self.inputs.swap(client, inputs, target, amount_split(value), row.unit, epoch)
                except MintRefused as exc:
                    if exc.name == "proof-spent":
                        raise WalletError("this token was already received (its proofs are spent)") from None
                    raise
                total += value
        with self.store.transaction():
            self.store.add_history("receive", token.unit, total, epoch, {"memo": token.memo})
        return Received(token.unit, total, epoch)

"""Share signing (DESIGN §4 "Signing", "Work ledger", "Claimed ehash"): the mint's side of
`signer.GroupCommitSigner`.

A share is signed at once with the key its level's amount names (no store access, so the event
loop never waits on the disk), and released only when the batch it is in has committed: one
transaction that re-checks the open epoch's keyset and B_ reuse, stores the signatures and adds
their amounts to W_e. A claimed share (a channel without the ecash extension) is not signed: the same
transaction adds its amount to its key's claim and to W_e, so claimed work counts exactly like signed work.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

from nutx_cli.core import bdhke
from nutx_cli.core.vocabulary import Unit
from nutx_cli.mint.errors import MintError
from nutx_cli.mint.keysets import MintKeysets
from nutx_cli.mint.rows import SignatureRow
from nutx_cli.mint.signer import (
    BatchResult,
    ClaimRequest,
    GroupCommitSigner,
    Queued,
    ShareRequest,
    SignedShare,
)
from nutx_cli.mint.store import MintStore


class ShareSigning:
    """Signs shares' blinded messages in the open epoch, durable before they are answered."""

    def __init__(self, store: MintStore, keysets: MintKeysets) -> None:
        self._store = store
        self._keysets = keysets
        self._signer = GroupCommitSigner(self._sign, self._commit)
        self._keys: dict[tuple[str, int], bdhke.SigningKey] = {}  # (keyset id as asked, amount) → parsed key

    async def sign(self, *, keyset_id: str, amount: int, B_: bytes) -> bdhke.BlindSig:
        """Sign one share's blinded message; returns once W_e's increment is durable."""
        return await self._signer.submit(ShareRequest(keyset_id, amount, B_))

    def sign_nowait(self, *, keyset_id: str, amount: int, B_: bytes) -> asyncio.Future[bdhke.BlindSig]:
        """Like `sign` without a coroutine per share: raises MintError at once for a request it cannot
        sign; the future holds the signature once W_e's increment is durable (or the refusal)."""
        return self._signer.submit_nowait(ShareRequest(keyset_id, amount, B_))

    def claim_nowait(self, *, pubkey: str, keyset_id: str, amount: int) -> asyncio.Future[None]:
        """Add a claimed share to `pubkey`'s claim in the epoch of `keyset_id`; the future is done once
        the claim and W_e's increment are durable (or holds the refusal, e.g. inactive-keyset)."""
        keyset = self._keysets.get(keyset_id)  # unknown-keyset at once, never inside a batch
        if keyset.unit != Unit.EHASH:
            raise MintError("inactive-keyset", f"keyset {keyset.id} is not an epoch keyset")
        if amount not in keyset.private_keys:
            raise MintError("amount-mismatch", f"keyset has no key for amount {amount}")
        return self._signer.claim_nowait(ClaimRequest(keyset_id, amount, pubkey))

    def _sign(self, req: ShareRequest) -> bdhke.BlindSig:
        """The signature of one share request (no store access: the commit re-checks what can race)."""
        key = self._keys.get((req.keyset_id, req.amount))
        if key is None:
            key = self._key(req)
        try:
            return key.sign(req.B_)
        except bdhke.CryptoError as exc:
            raise MintError("invalid-blinded-message", f"B_ is not a valid point: {exc}") from None

    def _key(self, req: ShareRequest) -> bdhke.SigningKey:
        keyset = self._keysets.get(req.keyset_id)
        if keyset.unit != Unit.EHASH:
            raise MintError("inactive-keyset", f"keyset {keyset.id} is not an epoch keyset")
        k = keyset.private_keys.get(req.amount)
        if k is None:
            raise MintError("amount-mismatch", f"keyset has no key for amount {req.amount}")
        key = self._keys[(req.keyset_id, req.amount)] = bdhke.SigningKey.of(k, keyset.public_keys[req.amount])
        return key

    def _commit(self, batch: Sequence[Queued]) -> list[BatchResult]:
        """One transaction for a batch: open-epoch keyset, no B_ reuse, signatures and claims stored, W_e += amounts."""
        results: list[BatchResult] = []
        with self._store.transaction():
            open_n = self._store.open_epoch_number()
            open_row = None if open_n is None else self._store.epoch_row(open_n)
            open_keyset = None if open_row is None else open_row.keyset_id
            reused = self._store.signed_among([q.request.B_ for q in batch if isinstance(q, SignedShare)])
            rows: list[SignatureRow] = []
            claims: Counter[tuple[str, int]] = Counter()
            counts: Counter[int] = Counter()
            for item in batch:
                req = item.request if isinstance(item, SignedShare) else item
                keyset_id = self._keysets.get(req.keyset_id).id
                if keyset_id != open_keyset:
                    results.append(
                        MintError("inactive-keyset", f"keyset {keyset_id} is not the open epoch's")
                    )
                    continue
                if isinstance(item, ClaimRequest):
                    claims[(item.pubkey, item.amount)] += 1
                    results.append(None)
                elif item.request.B_ in reused:
                    results.append(MintError("blinded-message-reused", "this B_ was signed before"))
                    continue
                else:
                    reused.add(item.request.B_)
                    rows.append(SignatureRow(item.request.B_, item.sig, req.amount, keyset_id, share=True))
                    results.append(item.sig)
                counts[req.amount] += 1
            if counts:
                assert open_n is not None
                self._store.add_signatures(rows)
                self._store.add_claims(open_n, dict(claims))
                self._store.add_work(open_n, dict(counts))
        return results

"""Share signing (DESIGN §4 "Signing", "Work ledger", "Claimed ehash"): the mint's side of
`signer.GroupCommitSigner`.

A share is signed at once with the key its level's amount names (no store access, so the event
loop never waits on the disk), and released only when the batch it is in has committed: one
transaction that re-checks the open epoch's keyset and B_ reuse, stores the signatures and adds
their amounts to W_e. A claimed share (a channel without the ecash extension) is not signed: the same
transaction adds its amount to its key's claim and to W_e, so claimed work counts exactly like signed work.

Several pool front ends may commit batches into one PostgreSQL mint at once. The batch holds the
open epoch's row FOR SHARE, so an epoch is closed either after the batch committed (its work is in
W_e) or before the batch reads it (the batch is refused): W_e is final at the close. A B_ another
front end stores meanwhile is skipped by the unique index and refused here, so it is signed once.
A batch that lost a race (a deadlock) changed nothing and is committed again.
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
from nutx_cli.mint.store import MintStore, MintStoreError

COMMIT_ATTEMPTS = 5


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
        """The batch committed, again if it lost a race with another process's transaction."""
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                return self._commit_once(batch)
            except MintStoreError as exc:
                if not exc.retryable or attempt == COMMIT_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _commit_once(self, batch: Sequence[Queued]) -> list[BatchResult]:
        """One transaction for a batch: open-epoch keyset, no B_ reuse, signatures and claims stored, W_e += amounts."""
        results: list[BatchResult] = []
        with self._store.transaction():
            open_row = self._store.open_epoch_row(lock="share")
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
                assert open_row is not None
                stored = self._store.add_signatures(rows)
                if len(stored) < len(rows):  # another process stored some of these B_ meanwhile
                    results = [_refused_unless(r, stored, q) for r, q in zip(results, batch, strict=True)]
                    counts -= Counter(r.amount for r in rows if r.B_ not in stored)
                self._store.add_claims(open_row.epoch, dict(claims))
                self._store.add_work(open_row.epoch, dict(counts))
        return results


def _refused_unless(result: BatchResult, stored: set[bytes], item: Queued) -> BatchResult:
    """A signature another process stored first is refused here (it never leaves)."""
    if not isinstance(item, SignedShare) or isinstance(result, Exception) or item.request.B_ in stored:
        return result
    return MintError("blinded-message-reused", "this B_ was signed before")

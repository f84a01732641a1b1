"""A share in flight: checked, credited by the mint, durable, answered (DESIGN.md §4, stratum.md §6.4).

A share is credited one of two ways: an ecash share's blinded message is signed; a claimed share (a
channel without the ecash extension) adds its amount to its pubkey's claim. Either way the mint's group
commit makes the W_e increment durable in the same transaction before the share is answered.

Rules enforced here:
- A share is credited only for a job of the open epoch: `check_share` finds its job among the channel's
  valid jobs, and the tip watch invalidates them all before it waits for `Credits.drained` and
  closes the epoch.
- A share is answered only once the mint's group commit made its W_e increment durable: the answer
  goes out from the credit future's callback, and the answers of one commit leave in one write per
  connection (the wire's outbox).
- The share that finds a block is credited, and its credit durable, before its block is submitted, under
  the epoch lock (the tip watch takes the same lock): it is in the W_e of the epoch it wins before the
  block can end that epoch, in this front end or in any other that shares the mint. The block is
  submitted whatever the mint answered.

No task per share: the common share is checked and handed to the mint right here and finished by a
callback on its credit's future; only a block-finding share takes a task. Either way the share has
one future, which also settles its header hash in the epoch's `SeenShares`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from nutx_cli.core.bdhke import BlindSig
from nutx_cli.core.pool_stats import ShareEvent
from nutx_cli.core.targets import amount_of_level
from nutx_cli.mint import MintError
from nutx_cli.pool.channel import Channel
from nutx_cli.pool.current import CurrentEpoch
from nutx_cli.pool.events import EventHub
from nutx_cli.pool.shares import CheckedShare, ShareRejected, Submission, check_share

log = logging.getLogger(__name__)
T = TypeVar("T")

Credit = BlindSig | None
"""What a durable share earned: its blind signature, or None for a claimed share."""


class ShareCreditor(Protocol):
    """What credits shares (the mint): raises MintError at once for a request it cannot take; the
    future is done once W_e's increment is durable."""

    def sign_share_nowait(self, *, keyset_id: str, amount: int, B_: bytes) -> asyncio.Future[BlindSig]: ...

    def claim_share_nowait(self, *, pubkey: str, keyset_id: str, amount: int) -> asyncio.Future[None]: ...


class Credits:
    """The share credits (signatures and claims) in flight, counted so that a tip change can wait until
    all are durable."""

    def __init__(self, creditor: ShareCreditor) -> None:
        self._creditor = creditor
        self._count = 0
        self._drained = asyncio.Event()
        self._drained.set()

    def sign(self, *, keyset_id: str, amount: int, B_: bytes) -> asyncio.Future[Credit]:
        """A future that holds the signature once durable, or the mint's refusal (MintError)."""
        return self._track(
            lambda: self._creditor.sign_share_nowait(keyset_id=keyset_id, amount=amount, B_=B_)
        )

    def claim(self, *, pubkey: str, keyset_id: str, amount: int) -> asyncio.Future[Credit]:
        """A future that is done (None) once the claim is durable, or holds the mint's refusal."""
        return self._track(
            lambda: self._creditor.claim_share_nowait(pubkey=pubkey, keyset_id=keyset_id, amount=amount)
        )

    def _track(self, start: Callable[[], asyncio.Future[Any]]) -> asyncio.Future[Credit]:
        try:
            credit = start()
        except MintError as exc:
            refused: asyncio.Future[Credit] = asyncio.get_running_loop().create_future()
            refused.set_exception(exc)
            return refused
        self._count += 1
        self._drained.clear()
        credit.add_done_callback(self._done)
        return credit

    def _done(self, _: asyncio.Future[Any]) -> None:
        self._count -= 1
        if not self._count:
            self._drained.set()

    async def drained(self) -> None:
        """Return once no credit is in flight."""
        await self._drained.wait()


@dataclass(eq=False)
class SharesInFlight:
    """Every share from its arrival to its answer; `submit_block` and `retarget` are the pool's."""

    current: CurrentEpoch
    credits: Credits
    k_max: int
    submit_block: Callable[[CheckedShare], Awaitable[None]]
    retarget: Callable[[Channel, float], Awaitable[None]]
    events: EventHub
    _tasks: set[asyncio.Future[Any]] = field(default_factory=set, init=False)  # block shares and retargets

    def submit(self, channel: Channel, share: Submission, now: float) -> None:
        """Check `share`; if it passes, have it credited and answer it once the credit is durable."""
        current = self.current
        try:
            checked = check_share(
                share,
                channel.jobs,
                extranonce_size=channel.extranonce_size,
                k_max=self.k_max,
                known_keysets=current.known_keysets,
                seen=current.seen,
                now=int(now),
            )
        except ShareRejected as exc:
            self._reject(channel, share, exc.code, now)
            return
        if checked.is_block:
            credit: asyncio.Future[Credit] = self._track(self._credit_block(checked, share))
        else:
            credit = self._credit(checked, share)
        current.seen.hold(checked.hash, credit)
        credit.add_done_callback(functools.partial(self._finish, channel, share, checked, now))

    async def wait(self) -> None:
        """Let every share already received finish (used at shutdown)."""
        await self.credits.drained()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- crediting ----------------------------------------------------------------------------------

    def _credit(self, checked: CheckedShare, share: Submission) -> asyncio.Future[Credit]:
        keyset_id = checked.job.keyset_id
        if share.blinded_message is not None:
            B_ = share.blinded_message.blinded_secret
            return self.credits.sign(keyset_id=keyset_id, amount=checked.amount, B_=B_)
        assert share.claimant is not None
        return self.credits.claim(pubkey=share.claimant, keyset_id=keyset_id, amount=checked.amount)

    async def _credit_block(self, checked: CheckedShare, share: Submission) -> Credit:
        """The durable credit, then submitblock, under the epoch lock: the tip change waits for both."""
        async with self.current.lock:
            if checked.job.epoch != self.current.number:
                raise ShareRejected("stale-share")
            try:
                return await self._credit(checked, share)
            finally:
                await self.submit_block(checked)

    def _track(self, work: Awaitable[T]) -> asyncio.Future[T]:
        """A task the shares started, remembered until done (`wait` awaits it at shutdown)."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _finish(
        self,
        channel: Channel,
        share: Submission,
        checked: CheckedShare,
        now: float,
        credit: asyncio.Future[Credit],
    ) -> None:
        if credit.cancelled():
            return
        exc = credit.exception()
        if exc is None:
            self._accept(channel, share, checked, credit.result(), now)
        elif isinstance(exc, ShareRejected):
            self._reject(channel, share, exc.code, now)
        elif isinstance(exc, MintError):
            self._reject(channel, share, exc.name, now)
        else:
            log.error("crediting a share failed: %r", exc)

    # --- answers ------------------------------------------------------------------------------------

    def _accept(
        self, channel: Channel, share: Submission, checked: CheckedShare, sig: Credit, now: float
    ) -> None:
        channel.stats.record_accepted(checked.level, checked.hash_int, now)
        channel.wire.accepted(channel, share, checked, sig)
        self._publish_share(channel, checked.level, checked.amount, None, now)
        if channel.vardiff.on_share(now) is not None:
            self._track(self.retarget(channel, now))

    def _reject(self, channel: Channel, share: Submission, code: str, now: float) -> None:
        channel.stats.record_rejected(code)
        channel.wire.rejected(channel, share, code)
        amount = (
            share.blinded_message.amount
            if share.blinded_message is not None
            else amount_of_level(channel.level, self.k_max)
        )
        self._publish_share(channel, channel.level, amount, code, now)

    def _publish_share(
        self, channel: Channel, level: int, amount: int, reason: str | None, now: float
    ) -> None:
        if self.events.has_subscribers:
            self.events.publish(
                ShareEvent(str(channel.key), level, amount, reason is None, reason, int(now)).to_json()
            )

"""A share in flight: checked, signed by the mint, durable, answered (DESIGN.md §4, stratum.md §6.4).

Rules enforced here:
- A share is signed only for a job of the open epoch: `check_share` finds its job among the channel's
  valid jobs, and the tip watch invalidates them all before it waits for `Signatures.drained` and
  closes the epoch.
- A signature is answered only once the mint's group commit made its W_e increment durable: the answer
  goes out from the signing future's callback, and the answers of one commit leave in one write per
  connection (the outbox).
- The share that finds a block is signed, and its signature durable, before its block is submitted, under
  the epoch lock (the tip watch takes the same lock): it is in the W_e of the epoch it wins before the
  block can end that epoch, in this front end or in any other that shares the mint. The block is
  submitted whatever the mint answered.

No task per share: the common share is checked and handed to the mint right here and finished by a
callback on its signature's future; only a block-finding share takes a task. Either way the share has
one future, which also settles its header hash in the epoch's `SeenShares`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from nutx_cli.core.bdhke import BlindSig
from nutx_cli.core.pool_stats import ShareEvent
from nutx_cli.errors import NutxError
from nutx_cli.mint import MintError
from nutx_cli.pool.channel import Channel, Peer
from nutx_cli.pool.current import CurrentEpoch
from nutx_cli.pool.events import EventHub
from nutx_cli.pool.shares import CheckedShare, ShareRejected, check_share
from nutx_cli.pool.template import EXTRANONCE_SIZE
from nutx_cli.sv2.ecash import (
    BlindSignature,
    SubmitSharesEcashExtended,
    SubmitSharesEcashExtendedError,
    SubmitSharesEcashExtendedSuccess,
)
from nutx_cli.sv2.messages import Message

log = logging.getLogger(__name__)
T = TypeVar("T")


class ShareSigner(Protocol):
    """What signs shares (the mint): raises MintError at once for a request it cannot sign; the future
    holds the signature once W_e's increment is durable."""

    def sign_share_nowait(self, *, keyset_id: str, amount: int, B_: bytes) -> asyncio.Future[BlindSig]: ...


class Signatures:
    """The share signatures in flight, counted so that a tip change can wait until all are durable."""

    def __init__(self, signer: ShareSigner) -> None:
        self._signer = signer
        self._count = 0
        self._drained = asyncio.Event()
        self._drained.set()

    def sign(self, *, keyset_id: str, amount: int, B_: bytes) -> asyncio.Future[BlindSig]:
        """A future that holds the signature once durable, or the mint's refusal (MintError)."""
        try:
            signing = self._signer.sign_share_nowait(keyset_id=keyset_id, amount=amount, B_=B_)
        except MintError as exc:
            refused: asyncio.Future[BlindSig] = asyncio.get_running_loop().create_future()
            refused.set_exception(exc)
            return refused
        self._count += 1
        self._drained.clear()
        signing.add_done_callback(self._done)
        return signing

    def _done(self, _: asyncio.Future[BlindSig]) -> None:
        self._count -= 1
        if not self._count:
            self._drained.set()

    async def drained(self) -> None:
        """Return once no signature is in flight."""
        await self._drained.wait()


@dataclass(eq=False)
class SharesInFlight:
    """Every share from its arrival to its answer; `submit_block` and `retarget` are the pool's."""

    current: CurrentEpoch
    signatures: Signatures
    k_max: int
    submit_block: Callable[[CheckedShare], Awaitable[None]]
    retarget: Callable[[Channel, float], Awaitable[None]]
    events: EventHub
    _tasks: set[asyncio.Future[Any]] = field(default_factory=set, init=False)  # block shares and retargets
    _outbox: dict[Peer, list[Message]] = field(default_factory=dict, init=False)

    def submit(self, channel: Channel, share: SubmitSharesEcashExtended, now: float) -> None:
        """Check `share`; if it passes, have it signed and answer it once the signature is durable."""
        current = self.current
        try:
            checked = check_share(
                share,
                channel.jobs,
                extranonce_size=EXTRANONCE_SIZE,
                k_max=self.k_max,
                known_keysets=current.known_keysets,
                seen=current.seen,
                now=int(now),
            )
        except ShareRejected as exc:
            self._reject(channel, share, exc.code, now)
            return
        if checked.is_block:
            signing: asyncio.Future[BlindSig] = self._track(self._sign_block(checked, share))
        else:
            signing = self._sign(checked, share)
        current.seen.hold(checked.hash, signing)
        signing.add_done_callback(functools.partial(self._finish, channel, share, checked, now))

    async def wait(self) -> None:
        """Let every share already received finish (used at shutdown)."""
        await self.signatures.drained()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- signing ------------------------------------------------------------------------------------

    def _sign(self, checked: CheckedShare, share: SubmitSharesEcashExtended) -> asyncio.Future[BlindSig]:
        return self.signatures.sign(
            keyset_id=checked.job.keyset_id, amount=checked.amount, B_=share.blinded_message.blinded_secret
        )

    async def _sign_block(self, checked: CheckedShare, share: SubmitSharesEcashExtended) -> BlindSig:
        """The durable signature, then submitblock, under the epoch lock: the tip change waits for both."""
        async with self.current.lock:
            if checked.job.epoch != self.current.number:
                raise ShareRejected("stale-share")
            try:
                return await self._sign(checked, share)
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
        share: SubmitSharesEcashExtended,
        checked: CheckedShare,
        now: float,
        signing: asyncio.Future[BlindSig],
    ) -> None:
        if signing.cancelled():
            return
        exc = signing.exception()
        if exc is None:
            self._accept(channel, share, checked, signing.result(), now)
        elif isinstance(exc, ShareRejected):
            self._reject(channel, share, exc.code, now)
        elif isinstance(exc, MintError):
            self._reject(channel, share, exc.name, now)
        else:
            log.error("signing a share failed: %r", exc)

    # --- answers ------------------------------------------------------------------------------------

    def _accept(
        self,
        channel: Channel,
        share: SubmitSharesEcashExtended,
        checked: CheckedShare,
        sig: BlindSig,
        now: float,
    ) -> None:
        channel.stats.record_accepted(checked.level, checked.hash_int, now)
        self._reply(
            channel.peer,
            SubmitSharesEcashExtendedSuccess(
                channel_id=share.channel_id,
                sequence_number=share.sequence_number,
                signature=BlindSignature.of(sig, checked.amount, checked.job.keyset_id),
            ),
        )
        self._publish_share(channel, checked.level, checked.amount, None, now)
        if channel.vardiff.on_share(now) is not None:
            self._track(self.retarget(channel, now))

    def _reject(self, channel: Channel, share: SubmitSharesEcashExtended, code: str, now: float) -> None:
        channel.stats.record_rejected(code)
        self._reply(
            channel.peer,
            SubmitSharesEcashExtendedError(
                channel_id=share.channel_id, sequence_number=share.sequence_number, error_code=code
            ),
        )
        self._publish_share(channel, channel.level, share.blinded_message.amount, code, now)

    def _publish_share(
        self, channel: Channel, level: int, amount: int, reason: str | None, now: float
    ) -> None:
        if self.events.has_subscribers:
            self.events.publish(
                ShareEvent(str(channel.key), level, amount, reason is None, reason, int(now)).to_json()
            )

    def _reply(self, peer: Peer, message: Message) -> None:
        """Queue a share answer; the answers of one group commit leave in one write per connection."""
        queued = self._outbox.get(peer)
        if queued is None:
            self._outbox[peer] = [message]
            asyncio.get_running_loop().call_soon(self._flush, peer)
        else:
            queued.append(message)

    def _flush(self, peer: Peer) -> None:
        messages = self._outbox.pop(peer, [])
        if messages and not peer.closed:
            with contextlib.suppress(NutxError):  # never wait on a miner's socket
                peer.send_many_nowait(messages)

"""The CPU miner service: hashing processes fed by an SV2 channel, shares into the wallet.

On an ecash channel every share found is turned into a blinded message by the wallet (which stores the
secret and blinding factor first), submitted, and its signature checked (DLEQ) and stored as ehash. With
`claim` the miner opens a plain extended channel under the wallet's claim key (`<pubkey>.<user>`): the
pool credits its shares to that key's claim, which the wallet mints later (DESIGN §4 "Claimed ehash").
The wallet remembers the pool, and the mint the pool says it has. The miner reconnects with back-off when
the pool goes away and, with auto-redeem, turns mature ehash into sats over its own channel (claiming
first in claim mode).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from nutx_cli.errors import NutxError
from nutx_cli.miner.channel import ChannelError, EcashChannel, Work
from nutx_cli.miner.hashers import FoundShare, Hashers, HashJob
from nutx_cli.sv2.ecash import SubmitSharesEcashExtendedSuccess
from nutx_cli.sv2.errors import Sv2Error
from nutx_cli.sv2.messages import SubmitSharesSuccess
from nutx_cli.wallet.pool_redeem import PoolAddress
from nutx_cli.wallet.wallet import Wallet

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05
HOUSEKEEPING_SECONDS = 5.0
BACKOFF_FIRST, BACKOFF_CEILING = 1.0, 30.0
KEEP_JOBS = 4


@dataclass
class MinerStatus:
    """What the live line shows."""

    connected: bool = False
    hashrate: float = 0.0  # hashes/s over the last status interval (display only, not money)
    level: int | None = None
    epoch: int | None = None
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    ehash_this_epoch: int = 0
    redeemed_sats: int = 0
    last_error: str | None = None


def hash_job(work: Work, generation: int, now: int) -> HashJob:
    """The plain inputs the hashing processes need for one Work."""
    min_ntime = max(work.prev.min_ntime, work.job.min_ntime or 0)
    return HashJob(
        generation=generation,
        coinbase_prefix=work.job.coinbase_tx_prefix + work.extranonce_prefix,
        coinbase_suffix=work.job.coinbase_tx_suffix,
        extranonce_size=work.extranonce_size,
        merkle_path=tuple(work.job.merkle_path),
        version=work.job.version,
        prev_hash=work.prev.prev_hash,
        ntime=max(min_ntime, now),
        nbits=work.prev.nbits,
        target=work.target,
    )


class CpuMiner:
    def __init__(
        self,
        pool: PoolAddress,
        wallet: Wallet,
        *,
        threads: int,
        user: str,
        auto_redeem: bool = False,
        claim: bool = False,
        follow_mint: bool = True,
        on_status: Callable[[MinerStatus], None] | None = None,
    ) -> None:
        self.pool = pool
        self.wallet = wallet
        self.threads = threads
        self.user = f"{wallet.claim_pubkey}.{user}" if claim else user
        self.auto_redeem = auto_redeem
        self.claim = claim
        self.follow_mint = follow_mint
        """Take the mint URL the pool tells (False: the user named the mint)."""
        self.status = MinerStatus()
        self._on_status = on_status
        self._works: dict[int, Work] = {}
        self._generation = 0
        self._submits: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Mine until `stop` is set, reconnecting with back-off when the pool goes away."""
        hashers = Hashers(self.threads)
        backoff = BACKOFF_FIRST
        try:
            while not stop.is_set():
                try:
                    channel = await EcashChannel.open(
                        self.pool.host,
                        self.pool.port,
                        self.pool.authority_key,
                        user=self.user,
                        claim=self.claim,
                    )
                except (ChannelError, Sv2Error) as exc:
                    self.status.connected = False
                    self.status.last_error = str(exc)
                    self._report()
                    log.info("pool not reachable (%s); retrying in %.0f s", exc, backoff)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), backoff)
                    backoff = min(backoff * 2, BACKOFF_CEILING)
                    continue
                backoff = BACKOFF_FIRST
                self.wallet.remember_pool(self.pool)
                if channel.mint_url and self.follow_mint:
                    self.wallet.use_mint(channel.mint_url)
                try:
                    await self._mine(channel, hashers, stop)
                finally:
                    await channel.close()
                    self.status.connected = False
        finally:
            hashers.stop()
            if self._submits:
                await asyncio.wait(self._submits, timeout=5)

    async def _mine(self, channel: EcashChannel, hashers: Hashers, stop: asyncio.Event) -> None:
        self.status.connected, self.status.last_error = True, None
        log.info("mining on channel %d as %r", channel.channel_id, self.user)

        def on_work(work: Work) -> None:
            self._generation += 1
            # shares of the last few jobs may still be in flight; older ones would only be stale
            self._works = {g: w for g, w in self._works.items() if g > self._generation - KEEP_JOBS}
            self._works[self._generation] = work
            epoch = None if work.keyset is None else work.keyset.epoch  # a claim channel learns no epochs
            if self.status.epoch != epoch:
                self.status.epoch, self.status.ehash_this_epoch = epoch, 0
            self.status.level = (work.target + 1).bit_length() - 1
            hashers.set_job(hash_job(work, self._generation, int(time.time())))

        channel.on_work = on_work
        if channel.work is not None:
            on_work(channel.work)
        last_hashes, last_report = hashers.hashes_done(), time.monotonic()
        next_housekeeping = time.monotonic()
        while not stop.is_set() and not channel.closed:
            for share in hashers.drain_found():
                work = self._works.get(share.generation)
                if work is not None:
                    task = asyncio.create_task(self._submit(channel, work, share))
                    self._submits.add(task)
                    task.add_done_callback(self._submits.discard)
            now = time.monotonic()
            if now - last_report >= 1.0:
                done = hashers.hashes_done()
                self.status.hashrate = (done - last_hashes) / (now - last_report)
                last_hashes, last_report = done, now
                self._report()
            if now >= next_housekeeping:
                next_housekeeping = now + HOUSEKEEPING_SECONDS
                await self._housekeeping(channel)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), POLL_SECONDS)

    async def _submit(self, channel: EcashChannel, work: Work, share: FoundShare) -> None:
        if self.claim:
            await self._submit_claim(channel, work, share)
            return
        prepared = self.wallet.prepare_share(work.keyset_id, work.amount, work.epoch)
        try:
            reply = await channel.submit(
                work,
                nonce=share.nonce,
                ntime=share.ntime,
                version=share.version,
                extranonce=share.extranonce,
                B_=prepared.B_,
            )
        except ChannelError as exc:
            log.info("share not answered (%s); its secret stays pending for restore", exc)
            return
        if isinstance(reply, SubmitSharesEcashExtendedSuccess):
            sig = reply.signature
            try:
                self.wallet.complete_share(prepared, sig.blind_sig(), work.ecash_keyset.key_for(sig.amount))
            except NutxError as exc:
                log.error("signature for a share refused by the wallet: %s", exc)
                self.status.rejected["bad-signature"] += 1
                return
            self.status.accepted += 1
            if work.epoch == self.status.epoch:
                self.status.ehash_this_epoch += sig.amount
        else:
            self.wallet.fail_share(prepared, reply.error_code)
            self.status.rejected[reply.error_code] += 1
            log.info("share rejected: %s", reply.error_code)

    async def _submit_claim(self, channel: EcashChannel, work: Work, share: FoundShare) -> None:
        """A share of a claim channel: nothing to store first, the pool credits the claim of our key."""
        try:
            reply = await channel.submit_claim(
                work, nonce=share.nonce, ntime=share.ntime, version=share.version, extranonce=share.extranonce
            )
        except ChannelError as exc:
            log.info("share not answered (%s)", exc)
            return
        if isinstance(reply, SubmitSharesSuccess):
            self.status.accepted += 1
            self.status.ehash_this_epoch += reply.new_shares_sum  # the ehash the pool credited our claim
        else:
            self.status.rejected[reply.error_code] += 1
            log.info("share rejected: %s", reply.error_code)

    async def _housekeeping(self, channel: EcashChannel) -> None:
        """Learn epoch outcomes from the mint; with auto-redeem, turn mature ehash into sats (claimed
        first in claim mode) over this channel's connection."""
        try:
            await self.wallet.sync_epochs()
            if self.auto_redeem:
                if self.claim:
                    await self.wallet.claim()
                gained = await self.wallet.redeem(via=channel)
                if gained:
                    self.status.redeemed_sats += gained
                    log.info("redeemed %d sat of mature ehash", gained)
        except NutxError as exc:
            log.info("wallet housekeeping: %s", exc)

    def _report(self) -> None:
        if self._on_status is not None:
            self._on_status(self.status)

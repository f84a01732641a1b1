"""The pool service: the node, the mint and the miners wired together (DESIGN.md §4–§5).

Each part is its own module: `session` is one connection's SV2 conversation (sans-IO), `channel` the open
channels and their jobs, `wires` what each kind of channel sends, `inflight` a share from its check to its
answer, `chain_watch` the tip, the templates and the epochs, `stats` the admin document; `sv1` is the
pool's own Stratum V1 port on the same channels. The concurrency rules that keep the ledger right
are listed in `current` (the epoch lock) and stated again where each is enforced.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, Protocol

from nutx_cli.errors import NutxError
from nutx_cli.mint import Mint, MintError
from nutx_cli.node.client import NodeClient
from nutx_cli.pool.chain_watch import EpochKeeper, TipWatch, sleep_or_stop
from nutx_cli.pool.channel import Channel, Channels
from nutx_cli.pool.current import CurrentEpoch
from nutx_cli.pool.events import EventHub
from nutx_cli.pool.inflight import Credits, SharesInFlight
from nutx_cli.pool.session import (
    Action,
    CheckShare,
    Close,
    DropChannel,
    Ignored,
    OpenChannel,
    PoolSession,
    Redeem,
    Retarget,
    Send,
)
from nutx_cli.pool.settings import PoolSettings
from nutx_cli.pool.stats import EpochHistory, PoolStatsBuilder
from nutx_cli.pool.template import EXTRANONCE_SIZE
from nutx_cli.pool.wires import Sv2Peer, Sv2Wire
from nutx_cli.sv2.ecash import (
    BlindSignature,
    RedeemSharesEcash,
    RedeemSharesEcashError,
    RedeemSharesEcashSuccess,
)
from nutx_cli.sv2.messages import Message

log = logging.getLogger(__name__)

VARDIFF_TICK_SECONDS = 10.0


class MinerConnection(Sv2Peer, Protocol):
    """What the pool needs of a miner's connection: an SV2 `Connection` (tests use one in memory)."""

    peer: str

    async def send(self, message: Message) -> None: ...

    def __aiter__(self) -> AsyncIterator[Message]: ...


class Pool:
    """Everything the pool does between the node, the mint and the miners. Make one with `start`."""

    def __init__(self, keeper: EpochKeeper, current: CurrentEpoch) -> None:
        self.mint = keeper.mint
        self.settings = keeper.settings
        self.events = keeper.events
        self.current = current
        self.channels = Channels(current, self.events, self.settings.frontend.prefixes)
        credits = Credits(self.mint)
        self.tip_watch = TipWatch(keeper, current, self.channels, credits)
        self.shares = SharesInFlight(
            current,
            credits,
            k_max=self.mint.k_max,
            submit_block=keeper.submit_block,
            retarget=self.channels.retarget,
            events=self.events,
        )
        self.stats = PoolStatsBuilder(
            self.mint, self.settings, current, self.channels, keeper.history, started_at=time.time()
        )

    @classmethod
    async def start(cls, mint: Mint, node: NodeClient, settings: PoolSettings) -> Pool:
        """Resume the open epoch (or close it once if the chain moved while the pool was down)."""
        keeper = EpochKeeper(mint, node, settings, EventHub(), EpochHistory(mint))
        pool = cls(keeper, await keeper.resume())
        await keeper.scan_maturity()
        return pool

    # -- long-running tasks (with `tip_watch.run` and, at shutdown, `shares.wait`) ---------------------

    async def run_vardiff(self, stop: asyncio.Event) -> None:
        """Sample the pool hashrate; catch channels whose shares stopped coming (too hard a level)."""
        while not stop.is_set():
            await sleep_or_stop(stop, VARDIFF_TICK_SECONDS)
            now = time.time()
            self.stats.sample(now)
            for channel in self.channels:
                if channel.vardiff.check(now) is not None:
                    await self.channels.retarget(channel, now)

    def stats_json(self) -> dict[str, Any]:
        """`GET /v1/pool/stats` (DESIGN.md §5)."""
        return self.stats.stats(time.time()).to_json(dict)

    # -- connections -----------------------------------------------------------------------------------

    async def handle_connection(self, conn: MinerConnection) -> None:
        """One miner connection: its messages through its `PoolSession`, the actions performed here."""
        session = PoolSession(
            self.settings.vardiff,
            EXTRANONCE_SIZE,
            self.settings.mint_url,
            max_channels=self.settings.channels_per_connection,
        )
        mine: dict[int, Channel] = {}
        try:
            async for message in conn:
                for action in session.receive(message, time.time()):
                    if not await self._perform(conn, mine, action):
                        return
        finally:
            for channel in mine.values():
                self.channels.drop(channel)

    async def _perform(self, conn: MinerConnection, mine: dict[int, Channel], action: Action) -> bool:
        """Do one action of a session; False ends the connection."""
        if isinstance(action, CheckShare):
            self.shares.submit(mine[action.channel_id], action.share, time.time())
        elif isinstance(action, Send):
            await conn.send(action.message)
        elif isinstance(action, OpenChannel):
            mine[action.channel_id] = await self.channels.open(Sv2Wire(conn, action.kind), action)
        elif isinstance(action, Retarget):
            await self.channels.retarget(mine[action.channel_id], time.time())
        elif isinstance(action, DropChannel):
            self.channels.drop(mine.pop(action.channel_id))
        elif isinstance(action, Redeem):
            await conn.send(await self._redeem(action.request))
        elif isinstance(action, Ignored):
            log.debug("ignoring %s from %s", type(action.message).__name__, conn.peer)
        elif isinstance(action, Close):
            return False
        return True

    async def _redeem(self, msg: RedeemSharesEcash) -> Message:
        """RedeemSharesEcash: the same operation as `POST /v1/mining/redeem`, through the mint."""
        try:
            proofs = [p.to_model() for p in msg.proofs]
            outputs = [o.to_model() for o in msg.outputs]
            signatures = await asyncio.to_thread(self.mint.redeem, proofs, outputs)
        except UnicodeDecodeError:
            return RedeemSharesEcashError(
                request_id=msg.request_id, error_code="proof-invalid", failed_indexes=[]
            )
        except MintError as exc:
            return RedeemSharesEcashError(
                request_id=msg.request_id, error_code=exc.name, failed_indexes=[]
            )  # the mint names no index
        except NutxError:  # a malformed proof or output the mint's models refused
            return RedeemSharesEcashError(
                request_id=msg.request_id, error_code="malformed-request", failed_indexes=[]
            )
        return RedeemSharesEcashSuccess(
            request_id=msg.request_id,
            signatures=[BlindSignature.of(s.blind_sig(), s.amount, s.id) for s in signatures],
        )

"""One miner's ecash channel inside the pool: its jobs, its level controller and its statistics."""

from __future__ import annotations

from dataclasses import dataclass

from nutx_cli.core.vardiff import Vardiff
from nutx_cli.pool.jobs import ChannelJobs
from nutx_cli.pool.stats import ChannelStats


@dataclass
class Channel:
    """State of one open ecash channel; `key` is unique across the pool (connection, channel id)."""

    key: int
    channel_id: int
    user: str
    jobs: ChannelJobs
    vardiff: Vardiff
    stats: ChannelStats

    @property
    def level(self) -> int:
        return self.vardiff.level

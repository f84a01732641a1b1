"""What `nutx pool start` configures (DESIGN.md §1) that the pool's services read."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from nutx_cli.core.vardiff import VardiffConfig


@dataclass(frozen=True)
class PoolSettings:
    network: str
    payout_script: bytes
    network_difficulty: Fraction | None
    """Regtest's simulated network difficulty (DESIGN.md §6); None elsewhere."""
    maturity: int
    vardiff: VardiffConfig
    mint_url: str = ""
    """The mint's public HTTP URL, told to miners that negotiate the ecash extension (`SetEcashMint`)."""
    channels_per_connection: int = 0
    """The cap on open channels per SV2 connection (0: none); `nutx pool start` sets its default."""

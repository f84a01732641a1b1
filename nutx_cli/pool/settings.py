"""What `nutx pool start` configures (DESIGN.md §1) that the pool's services read."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from nutx_cli.core.vardiff import VardiffConfig
from nutx_cli.errors import NutxError
from nutx_cli.pool.template import EXTRANONCE_PREFIX_SIZE

PREFIX_SPACE = 1 << (8 * EXTRANONCE_PREFIX_SIZE)


@dataclass(frozen=True)
class FrontEnd:
    """Front end `index` of `count` sharing one mint (`--frontend I/N`): its own slice of the extranonce
    prefixes, so no two channels of the pool, whichever front end they are on, hash the same coinbase."""

    index: int = 1
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> FrontEnd:
        try:
            index, count = (int(part) for part in text.split("/"))
        except ValueError:
            raise NutxError(
                f"--frontend {text!r} is not I/N; e.g. 2/3 for the second of three front ends"
            ) from None
        if not 1 <= index <= count <= 256:
            raise NutxError(f"--frontend {text!r}: need 1 ≤ I ≤ N ≤ 256")
        return cls(index, count)

    @property
    def prefixes(self) -> range:
        """The extranonce prefixes of this front end's channels."""
        size = PREFIX_SPACE // self.count
        return range((self.index - 1) * size, self.index * size)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


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
    frontend: FrontEnd = field(default_factory=FrontEnd)

"""One SV1 job as a miner sees it: an upstream SV2 extended job on its prev hash, as `mining.notify`.

Byte orders follow spec/stratum.md §0/§7.3: the prev hash travels word-swapped, merkle branch items
as raw internal-order hex, version/nbits/ntime as big-endian hex of the integer. SV1's coinbase
`coinb1 ‖ extranonce1 ‖ extranonce2 ‖ coinb2` is SV2's `prefix ‖ extranonce_prefix ‖ extranonce ‖
suffix` (§5.5) with extranonce1 = the channel's extranonce_prefix, so headers are built by
`nutx_cli.sv2.jobs`, the same code the pool uses to check them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nutx_cli.chain.header import BlockHeader
from nutx_cli.sv2.ecash import EcashKeyset
from nutx_cli.sv2.jobs import extended_merkle_root
from nutx_cli.sv2.messages import NewExtendedMiningJob, SetNewPrevHash


def word_swap(data: bytes) -> bytes:
    """Reverse each 4-byte word: SV1's prevhash encoding, its own inverse."""
    return b"".join(data[i : i + 4][::-1] for i in range(0, len(data), 4))


@dataclass(frozen=True, slots=True)
class Sv1Job:
    job_id: str
    upstream: NewExtendedMiningJob
    prev: SetNewPrevHash
    ntime: int
    clean: bool
    target: int
    """The channel target recorded when the upstream job arrived; shares are checked against it exactly."""
    keyset: EcashKeyset
    """The epoch keyset whose key signs shares of this job (spec §6.5.1–2)."""
    amount: int
    """Ehash amount of one share of this job: 2^(k_max − k) for its level k."""

    @property
    def version(self) -> int:
        return self.upstream.version

    @property
    def version_rolling_allowed(self) -> bool:
        return self.upstream.version_rolling_allowed

    def notify_params(self) -> list[Any]:
        return [
            self.job_id,
            word_swap(self.prev.prev_hash).hex(),
            self.upstream.coinbase_tx_prefix.hex(),
            self.upstream.coinbase_tx_suffix.hex(),
            [node.hex() for node in self.upstream.merkle_path],
            f"{self.upstream.version:08x}",
            f"{self.prev.nbits:08x}",
            f"{self.ntime:08x}",
            self.clean,
        ]

    def header(
        self, extranonce1: bytes, extranonce2: bytes, ntime: int, nonce: int, version: int
    ) -> BlockHeader:
        root = extended_merkle_root(self.upstream, extranonce1, extranonce2)
        return BlockHeader(version, self.prev.prev_hash, root, ntime, self.prev.nbits, nonce)

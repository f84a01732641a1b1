"""Redeeming over SV2 (`RedeemSharesEcash`, the draft's path) for a wallet that knows its pool.

The wallet learns its pool from the miner that mines into it (the pool's SV2 address and pinned authority
key). A redeem then goes to the pool over SV2 with the same proofs and outputs the HTTP
`POST /v1/mining/redeem` would carry; refusals come back as the same `MintRefused` (by the error name's
Cashu code), and a pool that cannot be reached is `MintUnreachable`, so the wallet's spending rules
(pending first, NUT-07 settling over HTTP) hold either way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from nutx_cli.core.models import BlindedMessage, BlindSignature, Proof
from nutx_cli.miner.channel import ChannelError, RedeemLink, RedeemRefused
from nutx_cli.sv2 import ecash
from nutx_cli.sv2.errors import Sv2Error
from nutx_cli.wallet.client import BadMintAnswer, MintRefused, MintUnreachable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PoolAddress:
    """Where a wallet's pool takes SV2: host, port and its authority key (text form)."""

    host: str
    port: int
    authority_key: str

    def to_text(self) -> str:
        return json.dumps({"sv2": f"{self.host}:{self.port}", "authority_key": self.authority_key})

    @classmethod
    def from_text(cls, text: str) -> PoolAddress:
        d = json.loads(text)
        host, _, port = str(d["sv2"]).rpartition(":")
        return cls(host, int(port), str(d["authority_key"]))


class Sv2Redeemer(Protocol):
    """An SV2 connection that redeems: a mining channel (`EcashChannel`) or a `RedeemLink`."""

    async def redeem(
        self, proofs: Sequence[ecash.Proof], outputs: Sequence[ecash.BlindedMessage]
    ) -> list[ecash.BlindSignature]: ...


class RedeemPath(Protocol):
    """How the wallet sends a redeem: the mint's HTTP client, or `PoolRedeem`."""

    async def redeem(
        self, inputs: Sequence[Proof], outputs: Sequence[BlindedMessage]
    ) -> list[BlindSignature]: ...


class PoolRedeem:
    """A redeem path over SV2, in the Cashu models the wallet works with: on `link` (a miner's open channel),
    else on a `RedeemLink` to `address` made when first needed. A pool that cannot be reached before
    anything was sent leaves the redeem to `fallback` (the mint's HTTP API)."""

    def __init__(
        self, fallback: RedeemPath, *, link: Sv2Redeemer | None = None, address: PoolAddress | None = None
    ) -> None:
        self.fallback = fallback
        self.address = address
        self._link = link
        self._own: RedeemLink | None = None
        self._unreachable = link is None and address is None

    async def redeem(
        self, inputs: Sequence[Proof], outputs: Sequence[BlindedMessage]
    ) -> list[BlindSignature]:
        link = await self._connected()
        if link is None:
            return await self.fallback.redeem(inputs, outputs)
        try:
            sigs = await link.redeem(
                [ecash.Proof.of_model(p) for p in inputs], [ecash.BlindedMessage.of_model(o) for o in outputs]
            )
        except RedeemRefused as exc:
            from nutx_cli.mint.errors import CODES  # the mint package loads its web framework: only on errors

            raise MintRefused(CODES.get(exc.code, 0), exc.code) from None
        except (ChannelError, Sv2Error, OSError) as exc:
            raise MintUnreachable(f"the pool did not answer the redeem over SV2: {exc}") from None
        if len(sigs) != len(outputs):
            raise BadMintAnswer(f"the pool sent {len(sigs)} signatures for {len(outputs)} outputs")
        return [BlindSignature.of(s.blind_sig(), s.amount, s.keyset_id.hex()) for s in sigs]

    async def _connected(self) -> Sv2Redeemer | None:
        if self._link is None and not self._unreachable:
            assert self.address is not None
            a = self.address
            try:
                self._link = self._own = await RedeemLink.connect(a.host, a.port, a.authority_key)
                log.info("redeeming over SV2 at the pool %s:%d", a.host, a.port)
            except (ChannelError, Sv2Error, OSError) as exc:
                log.warning(
                    "the pool %s:%d is not reachable over SV2 (%s); redeeming over HTTP", a.host, a.port, exc
                )
                self._unreachable = True
        return self._link

    async def close(self) -> None:
        if self._own is not None:
            await self._own.close()

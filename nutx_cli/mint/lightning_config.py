"""Which Lightning backend a mint runs with, from the `--lightning …` flags and the network's rules.

Regtest defaults to the fake backend (and only regtest may run it); other networks default to none,
which mainnet refuses: there ecash is real money, so a pool or mint needs a real backend (LNbits or LND).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from nutx_cli.core.networks import rules
from nutx_cli.mint.lightning import (
    DEFAULT_TIMEOUT_S,
    FakeBackend,
    LightningBackend,
    LightningError,
    NoLightning,
)
from nutx_cli.mint.lnbits import LNbitsBackend
from nutx_cli.mint.lnd import LNDBackend

REAL_BACKEND_FLAGS = (
    "--lightning lnbits --lnbits-url URL --lnbits-key ADMIN_KEY, "
    "or --lightning lnd --lnd-url URL --lnd-macaroon PATH --lnd-cert PATH"
)


class LightningKind(StrEnum):
    FAKE = "fake"
    LNBITS = "lnbits"
    LND = "lnd"
    NONE = "none"


@dataclass(frozen=True)
class LightningConfig:
    kind: str | None = None
    """None: the network's default (fake on regtest, none elsewhere)."""
    lnbits_url: str | None = None
    lnbits_key: str | None = None
    lnd_url: str | None = None
    lnd_macaroon: Path | None = None
    lnd_cert: Path | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S

    def open_checked(self, network: str) -> LightningBackend:
        """`open`, then one request to the backend (its balance), so a wrong URL or key stops the mint at
        start with a one-line error instead of failing the first wallet that asks."""
        backend = self.open(network)
        try:
            backend.balance_msat()
        except LightningError as exc:
            raise LightningError(f"the {backend.name} backend cannot be used: {exc}") from None
        return backend

    def open(self, network: str) -> LightningBackend:
        """The backend these settings name on `network`; LightningError saying which flag is missing."""
        net = rules(network)
        try:
            kind = LightningKind(
                self.kind or (LightningKind.FAKE if net.fake_lightning else LightningKind.NONE)
            )
        except ValueError:
            raise LightningError(
                f"--lightning {self.kind!r} is not a backend; use one of {', '.join(LightningKind)}"
            ) from None
        if self.timeout_s <= 0:
            raise LightningError(f"--lightning-timeout must be positive, got {self.timeout_s}")
        if kind == LightningKind.FAKE:
            return FakeBackend(network)
        if kind == LightningKind.NONE:
            if net.requires_lightning:
                raise LightningError(
                    f"a {network} mint pays real sats and needs a real Lightning backend: pass {REAL_BACKEND_FLAGS}"
                )
            return NoLightning(network)
        if kind == LightningKind.LNBITS:
            if not self.lnbits_url or not self.lnbits_key:
                raise LightningError("--lightning lnbits needs --lnbits-url URL and --lnbits-key ADMIN_KEY")
            return LNbitsBackend(self.lnbits_url, self.lnbits_key, network, self.timeout_s)
        if not self.lnd_url or self.lnd_macaroon is None:
            raise LightningError(
                "--lightning lnd needs --lnd-url URL and --lnd-macaroon PATH (and --lnd-cert PATH)"
            )
        return LNDBackend(self.lnd_url, self.lnd_macaroon, self.lnd_cert, network, self.timeout_s)

"""What differs between regtest, signet, testnet4 and mainnet, in one place (pure: no I/O).

Every rule the pool, the mint and the CLI apply per network is a field of `NetworkRules`: the easiest
share level k_max, the address encodings, the BOLT11 prefix, maturity, bitcoind's chain name, RPC port,
cookie location and getblocktemplate rules, and what only regtest may do (a simulated network
difficulty, the fake Lightning backend). Off regtest the chain is a real one: blocks take real work and
ecash is backed by real sats, so mainnet also needs a real Lightning backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import Any

from nutx_cli.core.targets import K_MAX_MAINNET, K_MAX_REGTEST, target_of_level, target_to_sv1_difficulty
from nutx_cli.errors import NutxError

COINBASE_MATURITY = 100
"""Bitcoin's coinbase maturity: a block reward can be spent 100 blocks after it (the block counts 1)."""


class Network(StrEnum):
    REGTEST = "regtest"
    SIGNET = "signet"
    TESTNET4 = "testnet4"
    MAINNET = "mainnet"


class NetworkError(NutxError):
    """An unknown network, a node on another chain or not synced, or a setting the network does not allow."""


@dataclass(frozen=True)
class NetworkRules:
    network: Network
    chain: str
    """bitcoind's name for it in `getblockchaininfo.chain`."""
    k_max: int
    """The easiest share level (DESIGN §3): 256 on regtest (CPU miners), 224 (difficulty 1) elsewhere."""
    bech32_hrp: str
    p2pkh_version: int
    p2sh_version: int
    bolt11_prefix: str
    """The currency prefix of this network's BOLT11 invoices (after `ln`)."""
    rpc_port: int
    """bitcoind's default RPC port."""
    cookie_subdir: str
    """Where bitcoind writes `.cookie` under its data dir (`~/.bitcoin/<subdir>/.cookie`)."""
    gbt_rules: tuple[str, ...]
    """The rules getblocktemplate must be called with (signet's needs "signet")."""
    min_maturity: int
    """The fewest confirmations a won epoch may wait for before it pays."""
    simulated_difficulty: bool
    """Whether the pool may pretend the network is harder than its nBits (DESIGN §6: regtest only)."""
    fake_lightning: bool
    """Whether the fake Lightning backend (sats for nothing) may run."""
    requires_lightning: bool
    """Whether the pool refuses to start without a real Lightning backend (its ecash is real money)."""

    default_maturity: int = COINBASE_MATURITY

    @property
    def easiest_sv1_difficulty(self) -> Fraction:
        """Stratum V1 difficulty (diff 1 = 0xFFFF·2^208) of the easiest share, T_(k_max): just under 1 off
        regtest, ~2.3e-10 on regtest; the proxy rounds each level's difficulty up from the exact value."""
        return target_to_sv1_difficulty(target_of_level(self.k_max))

    def default_cookie(self, home: Path) -> Path:
        """bitcoind's cookie file for this network under `home` (`~/.bitcoin/signet/.cookie`, …)."""
        base = home / ".bitcoin"
        return (base / self.cookie_subdir if self.cookie_subdir else base) / ".cookie"

    def check_node(self, blockchaininfo: dict[str, Any]) -> None:
        """Refuse a node on another chain, or (off regtest) one still in initial block download."""
        chain = blockchaininfo.get("chain")
        if chain != self.chain:
            other = CHAIN_NAMES.get(str(chain), repr(chain))
            raise NetworkError(
                f"the node is on {other}, not {self.network}: point --node-rpc at a {self.network} node "
                f"or pass --network {other}"
            )
        if self.network != Network.REGTEST and blockchaininfo.get("initialblockdownload", True):
            height, headers = blockchaininfo.get("blocks"), blockchaininfo.get("headers")
            raise NetworkError(
                f"the {self.network} node is still syncing (block {height} of {headers} headers): "
                "start the pool once `bitcoin-cli getblockchaininfo` shows initialblockdownload false"
            )

    def check_maturity(self, maturity: int) -> None:
        if maturity < self.min_maturity:
            raise NetworkError(
                f"--maturity {maturity} is below {self.min_maturity}: on {self.network} a block reward "
                f"is spendable only after {COINBASE_MATURITY} confirmations"
            )

    def check_simulated_difficulty(self, given: bool) -> None:
        if given and not self.simulated_difficulty:
            raise NetworkError(
                f"--network-difficulty simulates a harder regtest; on {self.network} the difficulty is the "
                "chain's own: remove the flag"
            )


_real_chain = partial(
    NetworkRules,
    k_max=K_MAX_MAINNET,
    min_maturity=COINBASE_MATURITY,
    simulated_difficulty=False,
    fake_lightning=False,
)
"""What signet, testnet4 and mainnet share: real work, real maturity, no fakes."""

RULES: dict[Network, NetworkRules] = {
    Network.REGTEST: NetworkRules(
        Network.REGTEST,
        chain="regtest",
        k_max=K_MAX_REGTEST,
        bech32_hrp="bcrt",
        p2pkh_version=0x6F,
        p2sh_version=0xC4,
        bolt11_prefix="bcrt",
        rpc_port=18443,
        cookie_subdir="regtest",
        gbt_rules=("segwit",),
        min_maturity=1,
        simulated_difficulty=True,
        fake_lightning=True,
        requires_lightning=False,
    ),
    Network.SIGNET: _real_chain(
        Network.SIGNET,
        chain="signet",
        bech32_hrp="tb",
        p2pkh_version=0x6F,
        p2sh_version=0xC4,
        bolt11_prefix="tbs",
        rpc_port=38332,
        cookie_subdir="signet",
        gbt_rules=("segwit", "signet"),
        requires_lightning=False,
    ),
    Network.TESTNET4: _real_chain(
        Network.TESTNET4,
        chain="testnet4",
        bech32_hrp="tb",
        p2pkh_version=0x6F,
        p2sh_version=0xC4,
        bolt11_prefix="tb",
        rpc_port=48332,
        cookie_subdir="testnet4",
        gbt_rules=("segwit",),
        requires_lightning=False,
    ),
    Network.MAINNET: _real_chain(
        Network.MAINNET,
        chain="main",
        bech32_hrp="bc",
        p2pkh_version=0x00,
        p2sh_version=0x05,
        bolt11_prefix="bc",
        rpc_port=8332,
        cookie_subdir="",
        gbt_rules=("segwit",),
        requires_lightning=True,
    ),
}

CHAIN_NAMES = {r.chain: r.network.value for r in RULES.values()}
"""bitcoind's chain name → ours ("main" → "mainnet")."""

NAMES = ", ".join(n.value for n in Network)


def rules(network: str) -> NetworkRules:
    """The rules of a network by name; NetworkError naming the known ones otherwise."""
    try:
        return RULES[Network(network)]
    except ValueError:
        raise NetworkError(f"unknown network {network!r}; use one of {NAMES}") from None

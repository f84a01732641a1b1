"""The miner's wallet: ehash from shares, sats from redeems, tokens, Lightning and restore (issue 7).

`Wallet` is the library the CPU miner and the SV1 proxy use for their shares; `nutx wallet …`
is its command line. Layers: `store` (all SQL), `client` (the mint's HTTP API), `wallet` (logic).
"""

from nutx_cli.wallet.wallet import (
    DleqFailure,
    EpochBalance,
    PreparedShare,
    Wallet,
    WalletBalance,
    WalletError,
    default_mint_url,
)

__all__ = [
    "DleqFailure",
    "EpochBalance",
    "PreparedShare",
    "Wallet",
    "WalletBalance",
    "WalletError",
    "default_mint_url",
]

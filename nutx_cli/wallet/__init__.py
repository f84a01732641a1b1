"""The miner's wallet: ehash from shares, sats from redeems, tokens, Lightning and restore (issue 7).

`Wallet` is the library the CPU miner and the SV1 proxy use for their shares; `nutx wallet …`
is its command line. Layers: `store` (all SQL), `client` (the mint's HTTP API, typed answers),
the modules of one concept each (`outputs`, `keysets`, `inputs`, `shares`, `epochs`, `redeem`,
`lightning`, `tokens`, `restore`, `balance`), and `wallet`, the front that wires them.
"""

from nutx_cli.wallet.balance import EpochBalance, WalletBalance
from nutx_cli.wallet.errors import DleqFailure, WalletError
from nutx_cli.wallet.shares import PreparedShare
from nutx_cli.wallet.wallet import Wallet, default_mint_url

__all__ = [
    "DleqFailure",
    "EpochBalance",
    "PreparedShare",
    "Wallet",
    "WalletBalance",
    "WalletError",
    "default_mint_url",
]

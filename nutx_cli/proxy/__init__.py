"""`nutx proxy start`: Stratum V1 for real miners downstream, SV2 + ecash upstream, with its own wallet.

`service` is the asyncio side (SV1 listener, one upstream ecash channel per miner, share forwarding
into the wallet, job refreshes); `admin` serves per-worker statistics. The protocol logic lives in
the sans-IO cores `nutx_cli.sv1`.
"""

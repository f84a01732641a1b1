"""The embedded regtest node: Bitcoin Core's consensus engine (py-bitcoinkernel) behind bitcoind's JSON-RPC."""

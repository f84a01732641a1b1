"""Bitcoin data structures as pure functions: hashes, merkle trees, headers, transactions, blocks.

Byte order: every `bytes` value is in internal (serialized) order; every `str` hash is the usual
reversed display hex, as bitcoind prints it.
"""

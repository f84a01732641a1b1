"""Merkle roots and the coinbase merkle path (BIP-less Bitcoin merkle tree, last node duplicated)."""

from __future__ import annotations

from nutx_cli.chain.hashes import dsha256


def merkle_root(txids: list[bytes]) -> bytes:
    """Root of a block's transaction ids (internal byte order)."""
    if not txids:
        raise ValueError("a block has at least one transaction")
    level = list(txids)
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [dsha256(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def coinbase_merkle_path(txids: list[bytes]) -> list[bytes]:
    """The sibling hashes from the coinbase (index 0) up to the root, given the *other* txids.

    `txids` excludes the coinbase. This is SV2's `merkle_path` and SV1's `merkle_branch`.
    """
    path: list[bytes] = []
    level = list(txids)  # each level without its coinbase-side node, whose value never matters
    while level:
        path.append(level[0])  # the coinbase-side node pairs with the first of the others
        rest = level[1:]
        if len(rest) % 2:
            rest.append(rest[-1])
        level = [dsha256(rest[i] + rest[i + 1]) for i in range(0, len(rest), 2)]
    return path


def root_from_path(coinbase_txid: bytes, path: list[bytes]) -> bytes:
    """The merkle root given the coinbase txid and its merkle path."""
    node = coinbase_txid
    for sibling in path:
        node = dsha256(node + sibling)
    return node

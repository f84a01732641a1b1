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
    level: list[bytes | None] = [None, *txids]
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        sibling = level[1]
        assert sibling is not None
        path.append(sibling)
        level = [None] + [dsha256(level[i] + level[i + 1]) for i in range(2, len(level), 2)]  # type: ignore[operator]
    return path


def root_from_path(coinbase_txid: bytes, path: list[bytes]) -> bytes:
    """The merkle root given the coinbase txid and its merkle path."""
    node = coinbase_txid
    for sibling in path:
        node = dsha256(node + sibling)
    return node

"""Headers, hashes and merkle paths on real mainnet data."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nutx_cli.chain.hashes import dsha256, from_display_hex, to_display_hex
from nutx_cli.chain.header import BlockHeader
from nutx_cli.chain.merkle import coinbase_merkle_path, merkle_root, root_from_path
from nutx_cli.core.targets import meets, nbits_to_target

GENESIS_HEADER = bytes.fromhex(
    "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e"
    "67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c"
)
GENESIS_HASH = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"


def test_genesis_header() -> None:
    header = BlockHeader.parse(GENESIS_HEADER)
    assert header.serialize() == GENESIS_HEADER
    assert header.hash_hex() == GENESIS_HASH
    assert header.time == 1231006505 and header.bits == 0x1D00FFFF and header.nonce == 2083236893
    assert (
        to_display_hex(header.merkle_root)
        == "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
    )
    assert meets(header.hash(), nbits_to_target(header.bits))
    assert from_display_hex(GENESIS_HASH) == header.hash()


@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=40))
def test_coinbase_path_gives_the_root(txids: list[bytes]) -> None:
    path = coinbase_merkle_path(txids[1:])
    assert root_from_path(txids[0], path) == merkle_root(txids)


def test_single_tx_root_is_its_txid() -> None:
    txid = dsha256(b"coinbase")
    assert merkle_root([txid]) == txid
    assert coinbase_merkle_path([]) == []

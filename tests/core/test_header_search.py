"""Midstate nonce search finds exactly the nonces a full double SHA-256 would."""

from __future__ import annotations

import pytest

from nutx_cli.chain.hashes import dsha256
from nutx_cli.chain.header import BlockHeader
from nutx_cli.core.header_search import HeaderSearch
from nutx_cli.core.targets import target_of_level

GENESIS_HEADER = bytes.fromhex(
    "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e"
    "67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c"
)


def test_finds_the_genesis_nonce() -> None:
    header = BlockHeader.parse(GENESIS_HEADER)
    search = HeaderSearch(GENESIS_HEADER[:76], target_of_level(224))
    found = list(search.scan(header.nonce - 5, 10))
    assert found == [(header.nonce, header.hash())]


def test_matches_full_hashing_at_an_easy_level() -> None:
    target = target_of_level(252)  # 1 in 16 hashes
    search = HeaderSearch(GENESIS_HEADER[:76], target)
    found = dict(search.scan(0, 2000))
    expected = {
        n: dsha256(GENESIS_HEADER[:76] + n.to_bytes(4, "little"))
        for n in range(2000)
        if int.from_bytes(dsha256(GENESIS_HEADER[:76] + n.to_bytes(4, "little")), "little") <= target
    }
    assert found == expected and 60 < len(found) < 200


def test_stops_at_the_end_of_the_nonce_space() -> None:
    search = HeaderSearch(GENESIS_HEADER[:76], 2**256 - 1)
    assert [n for n, _ in search.scan(2**32 - 2, 10)] == [2**32 - 2, 2**32 - 1]


def test_rejects_wrong_length() -> None:
    with pytest.raises(ValueError):
        HeaderSearch(GENESIS_HEADER, 1)

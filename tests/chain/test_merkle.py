"""The coinbase merkle path reproduces the block's merkle root for any number of transactions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nutx_cli.chain.merkle import coinbase_merkle_path, merkle_root, root_from_path

_hash = st.binary(min_size=32, max_size=32)


@given(_hash, st.lists(_hash, max_size=40))
def test_path_gives_the_root(coinbase: bytes, others: list[bytes]) -> None:
    assert root_from_path(coinbase, coinbase_merkle_path(others)) == merkle_root([coinbase, *others])


def test_empty_template_has_an_empty_path() -> None:
    assert coinbase_merkle_path([]) == []
    assert merkle_root([b"\x01" * 32]) == b"\x01" * 32

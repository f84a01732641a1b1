"""Coinbase, transaction, block and address structures against the official vectors and round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nutx_cli.chain.address import AddressError, address_to_script, p2wpkh_address, script_to_address
from nutx_cli.chain.block import Block, witness_commitment_script
from nutx_cli.chain.coinbase import (
    CoinbaseError,
    assemble_block,
    block_subsidy,
    build_coinbase,
    script_for_pubkey,
)
from nutx_cli.chain.hashes import to_display_hex
from nutx_cli.chain.header import BlockHeader
from nutx_cli.chain.script import bip34_height, script_num
from nutx_cli.chain.tx import DecodeError, Tx, TxIn, TxOut
from tests.conftest import load_vectors

PUBKEY = bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")


def test_segwit_coinbase_vector() -> None:
    v = load_vectors("stratum")["segwit_coinbase_example"]
    commitment = witness_commitment_script([])
    assert commitment.hex().endswith(v["empty_block_witness_commitment"])
    parts = build_coinbase(
        101,
        50 * 10**8,
        bytes.fromhex("0014000102030405060708090a0b0c0d0e0f10111213"),
        8,
        witness_commitment=commitment,
        tag=b"/py-pool/",
        sequence=0xFFFFFFFF,
        locktime=0,
    )
    assert parts.prefix.hex() == v["coinbase_tx_prefix_stripped"]
    assert parts.suffix.hex() == v["coinbase_tx_suffix_stripped"]
    coinbase = parts.with_extranonce(bytes.fromhex("00000001deadbeef"))
    assert coinbase.hex() == v["coinbase_no_witness"]
    tx = Tx.parse(coinbase)
    assert to_display_hex(tx.txid()) == v["txid_display"]
    header = BlockHeader(0x20000000, bytes(32), tx.txid(), 0, 0x207FFFFF, 0)
    block = Block.parse(assemble_block(header, coinbase))
    assert block.txs[0].serialize().hex() == v["coinbase_with_witness"]
    assert Tx.parse(bytes.fromhex(v["coinbase_with_witness"])).txid() == tx.txid()


@pytest.mark.parametrize(
    "height, push",
    list(load_vectors("stratum")["segwit_coinbase_example"]["bip34_height_pushes"].items())[1:]
    + [("16", "60"), ("1", "51"), ("17", "0111"), ("0", "00")],
)
def test_bip34_height_push(height: str, push: str) -> None:
    assert bip34_height(int(height)).hex() == push


def test_script_num_signs() -> None:
    assert script_num(-1).hex() == "81"
    assert script_num(127).hex() == "7f"
    assert script_num(128).hex() == "8000"
    assert script_num(-128).hex() == "8080"


def test_prefix_ends_right_before_the_extranonce() -> None:
    parts = build_coinbase(5, 1000, script_for_pubkey(PUBKEY), 12)
    tx = Tx.parse(parts.with_extranonce(b"\xaa" * 12))
    script_sig = tx.inputs[0].script_sig
    assert script_sig == bytes([0x55]) + b"/nutx/" + b"\xaa" * 12
    assert tx.inputs[0].sequence == 0xFFFFFFFE and tx.locktime == 4
    assert tx.outputs == (TxOut(1000, script_for_pubkey(PUBKEY)),)
    assert tx.is_coinbase()


def test_script_sig_length_limits() -> None:
    with pytest.raises(CoinbaseError, match="2..100"):
        build_coinbase(1, 1, b"\x51", 0, tag=b"")  # one byte: OP_1 alone is too short
    build_coinbase(1, 1, b"\x51", 1, tag=b"")
    build_coinbase(500000, 1, b"\x51", 100 - 4 - 6)
    with pytest.raises(CoinbaseError):
        build_coinbase(500000, 1, b"\x51", 100 - 4 - 6 + 1)
    with pytest.raises(CoinbaseError):
        build_coinbase(1, -1, b"\x51", 4)


def test_assemble_block_without_commitment_keeps_legacy_coinbase() -> None:
    parts = build_coinbase(3, 1, b"\x51", 4)
    coinbase = parts.with_extranonce(b"\0" * 4)
    header = BlockHeader(1, bytes(32), Tx.parse(coinbase).txid(), 0, 0x207FFFFF, 0)
    raw = assemble_block(header, coinbase)
    assert raw == header.serialize() + b"\x01" + coinbase
    with pytest.raises(CoinbaseError):
        assemble_block(header, Tx(2, (TxIn(b"\x01" * 32, 0, b"", 0),), (), 0).serialize())


def test_block_subsidy_halves_every_interval() -> None:
    assert block_subsidy(0, 150) == 50 * 10**8
    assert block_subsidy(149, 150) == 50 * 10**8
    assert block_subsidy(150, 150) == 25 * 10**8
    assert block_subsidy(300, 150) == 1_250_000_000
    assert block_subsidy(150 * 64, 150) == 0
    assert block_subsidy(840000, 210000) == 312_500_000


_bytes = st.binary(max_size=80)
_txin = st.builds(
    TxIn,
    st.binary(min_size=32, max_size=32),
    st.integers(0, 2**32 - 1),
    _bytes,
    st.integers(0, 2**32 - 1),
    st.lists(_bytes, max_size=3).map(tuple),
)
_tx = st.builds(
    Tx,
    st.integers(-(2**31), 2**31 - 1),
    st.lists(_txin, min_size=1, max_size=3).map(tuple),
    st.lists(st.builds(TxOut, st.integers(0, 21 * 10**14), _bytes), max_size=3).map(tuple),
    st.integers(0, 2**32 - 1),
)


@given(_tx)
def test_tx_round_trip(tx: Tx) -> None:
    assert Tx.parse(tx.serialize()) == tx
    stripped = Tx.parse(tx.serialize(witness=False))
    assert stripped.txid() == tx.txid()
    assert tx.weight() == 3 * len(tx.serialize(witness=False)) + len(tx.serialize())


@given(st.binary(max_size=120))
def test_tx_parse_never_crashes(data: bytes) -> None:
    try:
        Tx.parse(data)
    except DecodeError:
        pass


def test_block_parse_rejects_trailing_and_truncated() -> None:
    parts = build_coinbase(3, 1, b"\x51", 4)
    coinbase = parts.with_extranonce(b"\0" * 4)
    raw = assemble_block(BlockHeader(1, bytes(32), Tx.parse(coinbase).txid(), 0, 0x207FFFFF, 0), coinbase)
    assert Block.parse(raw).serialize() == raw
    with pytest.raises(DecodeError):
        Block.parse(raw + b"\0")
    with pytest.raises(DecodeError):
        Block.parse(raw[:-1])
    with pytest.raises(DecodeError):
        Block.parse(raw[:80])


# BIP173/BIP350 valid addresses and their scripts, plus base58 forms
ADDRESSES = [
    ("mainnet", "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6"),
    (
        "testnet4",
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
    ),
    (
        "mainnet",
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
    ),
    (
        "regtest",
        "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
        "0014751e76e8199196d454941c45d1b3a323f1433bd6",
    ),
    ("mainnet", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "76a91477bff20c60e522dfaa3350c39b030a5d004e839a88ac"),
    ("mainnet", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "a914b472a266d0bd89c13706a4132ccfb16f7c3b9fcb87"),
    ("regtest", "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", "76a914243f1394f44554f4ce3fd68649c19adc483ce92488ac"),
    ("signet", "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", "76a914243f1394f44554f4ce3fd68649c19adc483ce92488ac"),
    (
        "signet",
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
    ),
]


@pytest.mark.parametrize("network, address, script_hex", ADDRESSES)
def test_address_to_script(network: str, address: str, script_hex: str) -> None:
    script = address_to_script(address, network)
    assert script.hex() == script_hex
    assert script_to_address(script, network) in (address, address.lower())


@pytest.mark.parametrize(
    "network, address",
    [
        ("regtest", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),  # mainnet address on regtest
        ("mainnet", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"),
        ("mainnet", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"),  # bad checksum
        (
            "mainnet",
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
        ),  # v1 with bech32 checksum
        ("mainnet", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3"),  # bad base58 checksum
        ("regtest", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),  # mainnet base58 on regtest
        ("regtest", ""),
        ("mainnet", "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7"),  # testnet on mainnet
        ("signet", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"),
        ("testnet4", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"),  # mainnet P2SH on testnet4
        ("testnet", "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7"),  # testnet3: not served
        ("moon", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"),
    ],
)
def test_bad_addresses(network: str, address: str) -> None:
    with pytest.raises(AddressError):
        address_to_script(address, network)


def test_pubkey_payout() -> None:
    address = p2wpkh_address(PUBKEY, "regtest")
    assert address.startswith("bcrt1q")
    assert address_to_script(address, "regtest") == script_for_pubkey(PUBKEY)
    with pytest.raises(AddressError):
        script_for_pubkey(PUBKEY[1:])

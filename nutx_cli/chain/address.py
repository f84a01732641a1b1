"""Addresses ↔ output scripts for every network (bech32/bech32m, base58check), with the encodings of
`core.networks`."""

from __future__ import annotations

from embit import base58, bech32

from nutx_cli.chain import script
from nutx_cli.core.networks import RULES, NetworkError, NetworkRules, rules
from nutx_cli.errors import NutxError


class AddressError(NutxError, ValueError):
    """An address that is malformed or belongs to another network."""


def _rules(network: str) -> NetworkRules:
    try:
        return rules(network)
    except NetworkError as exc:
        raise AddressError(str(exc)) from None


def address_to_script(address: str, network: str) -> bytes:
    """The scriptPubKey an address pays to; refuses addresses of another network."""
    net = _rules(network)
    hrp = net.bech32_hrp
    others = [
        r.network
        for r in RULES.values()
        if r.bech32_hrp != hrp and address.lower().startswith(r.bech32_hrp + "1")
    ]
    if others:
        raise AddressError(f"{address!r} is an address of {' or '.join(others)}, not {network}")
    if address.lower().startswith(hrp + "1"):
        version, program = bech32.decode(hrp, address)
        if version is None or program is None:
            raise AddressError(
                f"{address!r} is not a valid {network} bech32 address (bad checksum or format)"
            )
        if version == 0 and len(program) not in (20, 32):
            raise AddressError(f"{address!r}: a v0 witness program has 20 or 32 bytes")
        return script.witness_program(version, bytes(program))
    try:
        payload = base58.decode_check(address)
    except ValueError as exc:
        raise AddressError(f"{address!r} is not a valid {network} address ({exc})") from None
    if len(payload) == 21 and payload[0] == net.p2pkh_version:
        return script.p2pkh(payload[1:])
    if len(payload) == 21 and payload[0] == net.p2sh_version:
        return script.p2sh(payload[1:])
    raise AddressError(f"{address!r} is not a {network} address")


def script_for_pubkey(pubkey33: bytes) -> bytes:
    """P2WPKH output script of a compressed public key."""
    if len(pubkey33) != 33 or pubkey33[0] not in (2, 3):
        raise AddressError("a compressed public key has 33 bytes starting with 02 or 03")
    return script.p2wpkh(script.hash160(pubkey33))


def p2wpkh_address(pubkey33: bytes, network: str) -> str:
    net = _rules(network)
    script_for_pubkey(pubkey33)
    return str(bech32.encode(net.bech32_hrp, 0, script.hash160(pubkey33)))


def script_to_address(script_pubkey: bytes, network: str) -> str | None:
    """The address of a standard output script, or None for anything else (bare scripts, OP_RETURN)."""
    net = _rules(network)
    s = script_pubkey
    if (
        len(s) == 25
        and s[:3] == bytes([script.OP_DUP, script.OP_HASH160, 20])
        and s[23:] == bytes([script.OP_EQUALVERIFY, script.OP_CHECKSIG])
    ):
        return str(base58.encode_check(bytes([net.p2pkh_version]) + s[3:23]))
    if len(s) == 23 and s[:2] == bytes([script.OP_HASH160, 20]) and s[22] == script.OP_EQUAL:
        return str(base58.encode_check(bytes([net.p2sh_version]) + s[2:22]))
    if (
        4 <= len(s) <= 42
        and s[1] == len(s) - 2
        and (s[0] == script.OP_0 or script.OP_1 <= s[0] <= script.OP_1 + 15)
    ):
        version = 0 if s[0] == script.OP_0 else s[0] - script.OP_1 + 1
        return str(bech32.encode(net.bech32_hrp, version, s[2:]))
    return None

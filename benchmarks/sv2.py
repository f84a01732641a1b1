"""Stratum V2 codec speed on one core: encrypted SubmitSharesEcashExtended.Success round trips
(encode, encrypt, decrypt, decode) and full Noise NX handshakes (both sides, certificate checked).
Last line: "sv2: roundtrips_per_s=X handshakes_per_s=Y".
"""

import time
from collections.abc import Callable

from nutx_cli.sv2.certificate import make_certificate, pubkey_of_secret
from nutx_cli.sv2.ecash import (
    BlindedMessage,
    BlindSignature,
    SubmitSharesEcashExtended,
    SubmitSharesEcashExtendedSuccess,
)
from nutx_cli.sv2.noise import NoiseInitiator, NoiseResponder, TransportKeys, new_secret
from nutx_cli.sv2.session import Sv2Session


def rate(fn: Callable[[], object], seconds: float = 2.0) -> float:
    """Calls per second of fn() over about `seconds`, in batches to keep timer overhead out."""
    n, batch, start = 0, 64, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(batch):
            fn()
        n += batch
    return n / elapsed


authority, static = new_secret(), new_secret()
now = int(time.time())
cert = make_certificate(authority, pubkey_of_secret(static), now, now + 3600)
authority_pub = pubkey_of_secret(authority)


def handshake() -> tuple[TransportKeys, TransportKeys]:
    initiator = NoiseInitiator(authority_pub)
    msg2, server_keys = NoiseResponder(static, cert).act2(initiator.act1())
    return initiator.act2(msg2, now), server_keys


client_keys, server_keys = handshake()
pool, miner = Sv2Session.encrypted(server_keys), Sv2Session.encrypted(client_keys)
keyset_id = bytes.fromhex("01" + "ab" * 32)
success = SubmitSharesEcashExtendedSuccess(
    7, 12345, BlindSignature(1 << 20, keyset_id, b"\x02" + b"\xc1" * 32, b"\xe1" * 32, b"\x51" * 32)
)
share = SubmitSharesEcashExtended(
    7,
    12345,
    9,
    0x10572B0F,
    0x4D1B2237,
    0x20000000,
    b"\x00" * 8,
    BlindedMessage(1 << 20, keyset_id, b"\x02" + b"\xcd" * 32),
)


def success_roundtrip() -> None:
    (_msg,) = miner.feed(pool.encode(success))


def share_roundtrip() -> None:
    (_msg,) = pool.feed(miner.encode(share))


wire = pool.encode(success)
frame_len = len(wire)
assert miner.feed(wire) == [success]
assert pool.feed(miner.encode(share)) == [share]
rt = rate(success_roundtrip)
rt_share = rate(share_roundtrip)
hs = rate(handshake)
print(f"SubmitSharesEcashExtended.Success: {frame_len} bytes encrypted, {rt:,.0f} round trips/s")
print(f"SubmitSharesEcashExtended:         {rt_share:,.0f} round trips/s")
print(f"Noise NX handshakes (initiator + responder, certificate verified): {hs:,.0f}/s")
print(f"sv2: roundtrips_per_s={rt:.0f} handshakes_per_s={hs:.0f}")

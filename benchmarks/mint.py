"""Mint throughput on one core, with a real SQLite store (WAL, synchronous=FULL) in a temp dir:
 - swaps: requests of 64 sat proofs in -> 64 outputs (Mint.swap: verify, sign + DLEQ, one transaction);
 - share signatures: Mint.sign_share in concurrent batches of 100 (group commit: one transaction each);
 - the bare coincurve cost of the same crypto (bdhke.sign with DLEQ; + bdhke.verify for a swap proof),
   measured in the same run, and the ratio of the mint's rate to it.
Usage: scripts/bench_mint [--swaps 40] [--shares 20000]
Last line: "mint: swap_proofs_per_s=X sign_per_s=Y crypto_limit_per_s=Z ratio=R"
  (crypto_limit_per_s = bare share signatures/s; ratio = sign_per_s / crypto_limit_per_s).
"""

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from nutx_cli.core import bdhke
from nutx_cli.mint import Mint
from tests.helpers.mint import open_epoch, outputs

parser = argparse.ArgumentParser()
parser.add_argument("--swaps", type=int, default=40)
parser.add_argument("--shares", type=int, default=20000)
args = parser.parse_args()

with tempfile.TemporaryDirectory() as tmp:
    mint = Mint.open(Path(tmp))
    sat = mint.sat_keyset

    # swaps: 64 proofs of 1 sat in, 64 outputs of 1 sat out
    wallets = []
    for _ in range(args.swaps):
        quote = mint.create_mint_quote(64, "sat")["quote"]
        mint.mint_quote(quote)
        outs = outputs(sat.id, [1] * 64)
        wallets.append(
            (outs.unblind(mint.mint(quote, outs.messages), sat), outputs(sat.id, [1] * 64).messages)
        )
    start = time.perf_counter()
    for proofs, new in wallets:
        mint.swap(proofs, new)
    swap_s = time.perf_counter() - start
    swap_rate = args.swaps * 64 / swap_s

    # bare crypto of a swap proof: verify the input + sign one output with DLEQ
    k, K = sat.private_keys[1], sat.public_keys[1]
    sample = [(p, bytes.fromhex(m.B_)) for (proofs, msgs) in wallets[:10] for p, m in zip(proofs, msgs)]
    start = time.perf_counter()
    for p, B_ in sample:
        bdhke.verify(k, p.secret, bytes.fromhex(p.C))
        bdhke.sign(k, B_, K)
    swap_limit = len(sample) / (time.perf_counter() - start)

    # share signatures, concurrent batches of 100
    epoch = open_epoch(mint)
    keyset = mint.ehash_keyset(epoch)
    blinded = [bytes.fromhex(m.B_) for m in outputs(keyset.id, [1] * args.shares).messages]

    async def sign_all() -> float:
        start = time.perf_counter()
        for i in range(0, len(blinded), 100):
            await asyncio.gather(
                *(mint.sign_share(keyset_id=keyset.id, amount=1, B_=b) for b in blinded[i : i + 100])
            )
        return time.perf_counter() - start

    sign_s = asyncio.run(sign_all())
    sign_rate = len(blinded) / sign_s
    assert mint.epoch(epoch).work == len(blinded)

    k, K = keyset.private_keys[1], keyset.public_keys[1]
    fresh = [bytes.fromhex(m.B_) for m in outputs(keyset.id, [1] * 3000).messages]
    start = time.perf_counter()
    for b in fresh:
        bdhke.sign(k, b, K)
    crypto_limit = len(fresh) / (time.perf_counter() - start)
    mint.close()

print(
    f"swap: {args.swaps} requests x 64 proofs in {swap_s:.2f}s -> {swap_rate:.0f} proofs/s; "
    f"bare verify+sign {swap_limit:.0f}/s; ratio {swap_rate / swap_limit:.2f}"
)
print(
    f"shares: {len(blinded)} in batches of 100 in {sign_s:.2f}s -> {sign_rate:.0f}/s; "
    f"bare sign+DLEQ {crypto_limit:.0f}/s"
)
print(
    f"mint: swap_proofs_per_s={swap_rate:.0f} sign_per_s={sign_rate:.0f} "
    f"crypto_limit_per_s={crypto_limit:.0f} ratio={sign_rate / crypto_limit:.2f}"
)

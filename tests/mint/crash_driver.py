"""Drive `Mint.sign_share` under load until killed (used by test_mint_crash.py).

Usage: python tests/mint_crash_driver.py DATA_DIR RECEIVED_FILE. Every answered batch appends
the Σ amounts it received to RECEIVED_FILE *after* the answers arrived, so the file is a lower
bound of what the driver was given.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
from pathlib import Path

from nutx_cli.core import bdhke
from nutx_cli.mint import Mint


async def main(data_dir: Path, received: Path) -> None:
    mint = Mint.open(data_dir)
    epoch = mint.current_epoch() or mint.open_epoch(tip_hash="00" * 32, height=100, now=1_700_000_000)
    keyset_id = epoch.keyset_id
    fd = os.open(received, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    print("ready", flush=True)
    while True:
        amounts = [1 << random.randrange(12) for _ in range(random.randrange(20, 200))]
        blinded = [bdhke.blind(os.urandom(32).hex(), (1).to_bytes(32, "big")) for _ in amounts]
        sigs = await asyncio.gather(
            *(
                mint.sign_share(keyset_id=keyset_id, amount=a, B_=b)
                for a, b in zip(amounts, blinded, strict=True)
            )
        )
        assert len(sigs) == len(amounts)
        os.write(fd, f"{sum(amounts)}\n".encode())


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))

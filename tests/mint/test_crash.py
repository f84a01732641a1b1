"""Crash safety of the share ledger: SIGKILL a process signing shares at random moments.

After each restart W_e must equal Σ stored share signatures and be at least Σ of the signatures
the driver received (a signature is released only after its W_e increment is durable).
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nutx_cli.mint import Mint
from tests.conftest import REPO_ROOT

DRIVER = Path(__file__).with_name("crash_driver.py")
REPO = REPO_ROOT


@pytest.mark.e2e
def test_sigkill_during_share_signing_loses_no_work(tmp_path: Path) -> None:
    data, received = tmp_path / "mint", tmp_path / "received.txt"
    keyset_ids: set[tuple[str, ...]] = set()
    for _ in range(4):
        proc = subprocess.Popen(
            [sys.executable, str(DRIVER), str(data), str(received)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            assert proc.stdout is not None and proc.stdout.readline() == b"ready\n", proc.stderr.read()  # type: ignore[union-attr]
            time.sleep(random.uniform(0.3, 1.2))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        mint = Mint.open(data)
        try:
            epoch = mint.current_epoch()
            assert epoch is not None
            stored = mint.store.share_signature_work(epoch.keyset_id)
            got = sum(int(line) for line in received.read_text().split())
            assert epoch.work == stored >= got > 0
            keyset_ids.add((mint.sat_keyset.id, epoch.keyset_id))
        finally:
            mint.close()
    assert len(keyset_ids) == 1

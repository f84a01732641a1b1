"""`nutx pool backup` of a running pool, the data dir deleted, `nutx pool start --restore-from`: the same
authority key (miners pin it), the same keysets, and epoch numbers the lost data dir might have used later
are skipped, so no keyset is handed out twice."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from nutx_cli.local import read_pool_json
from nutx_cli.pool.run import RESTORE_EPOCH_MARGIN
from tests.helpers.stack import node
from tests.helpers.waits import until

pytestmark = pytest.mark.e2e


def nutx(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nutx_cli", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_pool_backup_and_restore(tmp_path: Path) -> None:
    backup = tmp_path / "pool.backup"
    with node(tmp_path) as stack:
        with stack.pool():
            before = read_pool_json(stack.pool_dir)
            keysets = httpx.get(f"{stack.mint_url}/v1/mining/keysets").json()["keysets"]
            sat = httpx.get(f"{stack.mint_url}/v1/keysets").json()["keysets"]
            out = nutx("pool", "backup", str(backup), "--data-dir", str(stack.pool_dir))
            assert out.returncode == 0, out.stderr
        assert stat.S_IMODE(backup.stat().st_mode) == 0o600
        saved = json.loads(backup.read_text())
        assert sorted(saved["files"]) == ["authority.key", "payout.key", "sv2_static.key"]
        assert saved["mint_seed"] and saved["role"] == "pool" and saved["network"] == "regtest"
        shutil.rmtree(stack.pool_dir)

        with stack.pool("--restore-from", str(backup), log="restored.log"):
            assert read_pool_json(stack.pool_dir).authority_key == before.authority_key
            assert httpx.get(f"{stack.mint_url}/v1/keysets").json()["keysets"] == sat
            restored = httpx.get(f"{stack.mint_url}/v1/mining/keysets").json()["keysets"]
            assert [k["id"] for k in restored] == [k["id"] for k in keysets] == [keysets[0]["id"]]
            out = nutx("regtest", "generate", "1", "--node-rpc", stack.node_rpc)
            assert out.returncode == 0, out.stderr

            def newest() -> int:
                return int(httpx.get(f"{stack.mint_url}/v1/mining/epochs").json()["epochs"][0]["epoch"])

            until(lambda: newest() != 1, "the restored pool opening its next epoch")
            # no block since the backup's epoch 1 started: numbers up to 1 + margin are set aside
            assert newest() == 1 + RESTORE_EPOCH_MARGIN + 1
        again = nutx("pool", "start", "--data-dir", str(stack.pool_dir), "--restore-from", str(backup))
        assert again.returncode == 1 and "already holds a mint; drop the flag" in again.stderr

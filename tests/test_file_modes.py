"""Secrets stay with their owner: every role's data dir is 0700, databases (with -wal/-shm) and key files 0600.

The mint's seed mints sats and the wallet's phrase spends them, so other local users must not read them.
Created that way, and a dir or file found with wider modes is tightened at start, with a warning.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from nutx_cli.mint import Mint
from nutx_cli.mint.store import DB_NAME as MINT_DB
from nutx_cli.wallet import Wallet
from nutx_cli.wallet.store import DB_NAME as WALLET_DB
from tests.helpers.procs import free_port, nutx_process, port_open
from tests.helpers.stack import node_and_pool

POOL_KEYS = ("authority.key", "sv2_static.key", "payout.key")


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def assert_private_db(db: Path) -> None:
    """The database and, after a write, its -wal and -shm files: owner only."""
    files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}


def test_mint_and_wallet_create_private_dirs_and_databases(tmp_path: Path) -> None:
    mint = Mint.open(tmp_path / "mint")
    wallet = Wallet.open(tmp_path / "wallet", mint_url="http://127.0.0.1:9")
    try:
        assert mode(tmp_path / "mint") == 0o700
        assert_private_db(tmp_path / "mint" / MINT_DB)
        assert mode(tmp_path / "wallet") == 0o700
        assert_private_db(tmp_path / "wallet" / WALLET_DB)
    finally:
        wallet.close()
        mint.close()


def test_wider_modes_found_at_start_are_tightened_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "mint"
    Mint.open(data_dir).close()
    data_dir.chmod(0o755)
    (data_dir / MINT_DB).chmod(0o644)
    with caplog.at_level(logging.WARNING):
        mint = Mint.open(data_dir)
    try:
        assert mode(data_dir) == 0o700
        assert_private_db(data_dir / MINT_DB)
    finally:
        mint.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"{data_dir} 0755 → 0700" in w for w in warnings), warnings
    assert any(f"{data_dir / MINT_DB} 0644 → 0600" in w for w in warnings), warnings


def test_node_pool_and_proxy_processes_keep_their_files_private(tmp_path: Path) -> None:
    with node_and_pool(tmp_path) as stack:
        assert mode(stack.node_dir) == 0o700
        assert mode(stack.node_dir / ".cookie") == 0o600
        assert mode(stack.pool_dir) == 0o700
        assert {k: mode(stack.pool_dir / k) for k in POOL_KEYS} == dict.fromkeys(POOL_KEYS, 0o600)
        assert_private_db(stack.pool_dir / MINT_DB)
        info = json.loads((stack.pool_dir / "pool.json").read_text())
        proxy_dir, admin = tmp_path / "proxy", free_port()
        args = [
            "proxy",
            "start",
            "--data-dir",
            str(proxy_dir),
            "--sv1-port",
            str(free_port()),
            "--admin-port",
            str(admin),
            "--pool",
            info["sv2"],
            "--authority-key",
            info["authority_key"],
            "--mint",
            info["http"],
        ]
        with nutx_process(args, tmp_path / "proxy.log", ready=lambda: port_open(admin)):
            assert mode(proxy_dir) == 0o700
            assert mode(proxy_dir / "wallet") == 0o700
            assert_private_db(proxy_dir / "wallet" / WALLET_DB)
    for log in ("node.log", "pool.log", "proxy.log"):  # created private, so nothing to tighten
        assert "tightened" not in (tmp_path / log).read_text(), log


def test_a_pool_dir_left_readable_is_tightened_at_start(tmp_path: Path) -> None:
    pool_log = tmp_path / "pool.log"
    with node_and_pool(tmp_path) as stack:
        pass  # the pool writes its keys and database, then stops
    before = len(pool_log.read_text())
    stack.pool_dir.chmod(0o755)
    for name in (*POOL_KEYS, MINT_DB):
        (stack.pool_dir / name).chmod(0o644)
    with node_and_pool(tmp_path) as stack:
        assert mode(stack.pool_dir) == 0o700
        assert {k: mode(stack.pool_dir / k) for k in POOL_KEYS} == dict.fromkeys(POOL_KEYS, 0o600)
        assert_private_db(stack.pool_dir / MINT_DB)
    log = pool_log.read_text()[before:]
    assert f"{stack.pool_dir} 0755 → 0700" in log, log
    for name in (*POOL_KEYS, MINT_DB):
        assert f"{stack.pool_dir / name} 0644 → 0600" in log, log

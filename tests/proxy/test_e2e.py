"""End to end: real `nutx node start`, `nutx pool start` and `nutx proxy start` processes, and an SV1 miner
written here from spec/stratum.md §7 (hashlib, no nutx code): shares accepted, ehash in the proxy's wallet.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest

from nutx_cli.wallet.balance import balance_of
from nutx_cli.wallet.wallet import Wallet
from tests.helpers.procs import NutxProcess, free_port, port_open
from tests.helpers.stack import node_and_pool
from tests.helpers.sv1_miner import DIFF1, Sv1Miner, mine_one

pytestmark = pytest.mark.e2e

LEVEL = 250  # each share is worth 2^(256-250) = 64 ehash and takes ~64 hashes
SHARES = 6


def wait_for_stats(admin: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        stats: dict[str, Any] = httpx.get(admin + "/v1/proxy/stats", timeout=5).json()
        if done(stats) or time.monotonic() > deadline:
            return stats
        time.sleep(0.1)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Node, pool and proxy; HOME is a temp dir so the proxy finds the pool by its pool.json, with no flags."""
    home = tmp_path / "home"
    env = {"HOME": str(home)}
    sv1_port, admin_port = free_port(), free_port()
    pool_flags = ("--start-level", str(LEVEL), "--network-difficulty", "1/1024", "--maturity", "2")
    with node_and_pool(tmp_path, *pool_flags, pool_dir=home / ".nutx" / "pool", env=env) as stack:
        proxy = NutxProcess(
            [
                "proxy",
                "start",
                "--data-dir",
                str(tmp_path / "proxy"),
                "--sv1-port",
                str(sv1_port),
                "--admin-port",
                str(admin_port),
            ],
            tmp_path / "proxy.log",
            env,
        )
        try:
            proxy.wait_until(lambda: port_open(sv1_port) and port_open(admin_port), 60)
            yield {
                "sv1": sv1_port,
                "admin": f"http://127.0.0.1:{admin_port}",
                "proxy": proxy,
                "node_rpc": stack.node_rpc,
                "wallet": tmp_path / "proxy" / "wallet",
            }
        finally:
            proxy.stop()
            for log in ("node.log", "pool.log", "proxy.log"):
                print(f"--- {log} (shown only when the test fails)\n{(tmp_path / log).read_text()[-3000:]}")


def test_sv1_miner_through_proxy_earns_ehash_in_the_proxy_wallet(processes: dict[str, Any]) -> None:
    miner = Sv1Miner(processes["sv1"])
    try:
        configured = miner.call(
            "mining.configure", [["version-rolling"], {"version-rolling.mask": "1fffe000"}]
        )
        assert configured["result"]["version-rolling.mask"] == "1fffe000"
        subscribed = miner.call("mining.subscribe", ["e2e-miner/1.0"])
        _, extranonce1, en2_size = subscribed["result"]
        assert miner.call("mining.authorize", ["alice.rig1", "x"])["result"] is True
        difficulty = miner.notification("mining.set_difficulty")["params"][0]
        target = int(DIFF1 / Fraction(difficulty))  # what a miner does with the float it is given
        assert target <= 2**LEVEL - 1
        notify = miner.notification("mining.notify")["params"]
        for counter in range(SHARES):  # every other share rolls version bits
            params = mine_one(
                notify, extranonce1, en2_size, target, counter, (counter << 13) if counter % 2 else None
            )
            reply = miner.call("mining.submit", ["alice.rig1", *params])
            assert reply["result"] is True, reply
        duplicate = miner.call("mining.submit", ["alice.rig1", *params])
        assert duplicate["error"][0] == 22
        stale = miner.call("mining.submit", ["alice.rig1", "12345", "00" * en2_size, notify[7], "00000000"])
        assert stale["error"][0] == 21
        miner.send({"id": 99, "method": "mining.submit", "params": "x" * 100})
        assert miner.response(99)["error"][0] == -32602

        stats = wait_for_stats(
            processes["admin"],
            lambda s: any(w["user"] == "alice.rig1" and w["accepted"] == SHARES for w in s["workers"]),
        )
        worker = {w["user"]: w for w in stats["workers"]}["alice.rig1"]
        assert worker["accepted"] == SHARES and worker["level"] <= LEVEL  # vardiff may have moved it since
        assert worker["rejected"] == {"duplicate-share": 1, "stale-share": 1}
        assert stats["upstream"]["channels"] == 1
        assert stats["upstream"]["epoch"] is not None
        foreign = httpx.get(
            processes["admin"] + "/v1/proxy/stats", headers={"Host": "evil.example"}, timeout=5
        )
        assert foreign.status_code == 403 and "workers" not in foreign.text  # DNS rebinding
        first_epoch = stats["upstream"]["epoch"]
        earned = SHARES * 2 ** (256 - LEVEL)  # every share was on the first job, at level 250
        assert stats["wallet"]["ehash_by_epoch"] == {str(first_epoch): earned}

        # another miner finds a block: new epoch keyset upstream, a clean job downstream
        subprocess.run(
            [
                sys.executable,
                "-m",
                "nutx_cli",
                "regtest",
                "generate",
                "1",
                "--node-rpc",
                processes["node_rpc"],
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        notify, difficulty = miner.next_clean_job(notify[1], difficulty)
        target = int(DIFF1 / Fraction(difficulty))
        for counter in range(2):
            params = mine_one(notify, extranonce1, en2_size, target, counter)
            assert miner.call("mining.submit", ["alice.rig1", *params])["result"] is True
        second = 2 * 2 ** (256 - target.bit_length())  # the level of the new job's target
        stats = wait_for_stats(processes["admin"], lambda s: len(s["wallet"]["ehash_by_epoch"]) == 2)
        assert stats["upstream"]["epoch"] == first_epoch + 1
        assert stats["wallet"]["ehash_by_epoch"] == {str(first_epoch): earned, str(first_epoch + 1): second}
        earned += second
    finally:
        miner.close()
    proxy = processes["proxy"]
    assert proxy.stop() == 0 and "proxy stopped" in proxy.log_path.read_text()  # SIGTERM: clean shutdown
    wallet = Wallet.open(processes["wallet"])
    try:
        assert balance_of(wallet.store).ehash == earned and balance_of(wallet.store).pending_shares == 0
    finally:
        wallet.close()

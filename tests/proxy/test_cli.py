"""`nutx proxy start` refuses bad flags and missing pools with one line that says what to do."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from nutx_cli.admin_access import AdminAccess
from nutx_cli.errors import NutxError
from nutx_cli.local import PoolInfo, write_pool_json
from nutx_cli.proxy.run import ProxyOptions, checked_upstream, parse_host_port
from nutx_cli.proxy.service import Upstream
from nutx_cli.sv1.server import SV1_LIMITS

AUTHORITY_KEY = "9auqWEzQDVyd2oe1JVGFLMLHZtCo2FFqZwtKA5gd9xbuEu7PH72"  # SRI's public test key (stratum.json)


def test_parse_host_port() -> None:
    assert parse_host_port("127.0.0.1:34254") == ("127.0.0.1", 34254)
    assert parse_host_port("[::1]:3333") == ("::1", 3333)
    for bad in ("nohost", ":1", "host:", "host:0", "host:70000", "host:x"):
        with pytest.raises(NutxError):
            parse_host_port(bad)


def run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nutx_cli", "proxy", "start", "--data-dir", str(home / "proxy"), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={"HOME": str(home), "PATH": ""},
    )


def options(tmp_path: Path, **flags: str) -> ProxyOptions:
    return ProxyOptions(
        data_dir=tmp_path / "proxy",
        host="127.0.0.1",
        sv1_port=0,
        limits=SV1_LIMITS,
        admin=AdminAccess("127.0.0.1"),
        admin_port=0,
        pool=flags.get("pool"),
        authority_key=flags.get("authority_key"),
        mint=flags.get("mint"),
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({}, "no pool found at"),
        ({"pool": "nohost"}, "--pool 'nohost' is not HOST:PORT"),
        ({"pool": "127.0.0.1:34254"}, "--pool needs --authority-key KEY"),
        ({"pool": "127.0.0.1:34254", "authority_key": "9auqWEzQ"}, "--authority-key: "),
    ],
)
def test_bad_setup_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: dict[str, str], message: str
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no local pool.json
    with pytest.raises(NutxError, match=re.escape(message)):
        checked_upstream(options(tmp_path, **flags))


def test_defaults_come_from_the_local_pool_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    pool_dir = tmp_path / ".nutx" / "pool"
    pool_dir.mkdir(parents=True)
    write_pool_json(
        pool_dir,
        PoolInfo(
            sv2="127.0.0.1:4444",
            authority_key=AUTHORITY_KEY,
            http="http://127.0.0.1:5555",
            admin="http://127.0.0.1:6666",
            network="regtest",
        ),
    )
    assert checked_upstream(options(tmp_path)) == (
        Upstream("127.0.0.1", 4444, AUTHORITY_KEY),
        "http://127.0.0.1:5555",
    )
    assert checked_upstream(options(tmp_path, mint="http://m:1")) == (
        Upstream("127.0.0.1", 4444, AUTHORITY_KEY),
        "http://m:1",
    )


def test_a_bad_flag_is_one_line_at_the_cli(tmp_path: Path) -> None:
    result = run(["--pool", "nohost"], tmp_path)
    assert result.returncode == 1
    assert result.stderr == "error: --pool 'nohost' is not HOST:PORT (e.g. 127.0.0.1:34254)\n"


def test_sv1_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(
            [
                "--pool",
                "127.0.0.1:1",
                "--authority-key",
                AUTHORITY_KEY,
                "--mint",
                "http://127.0.0.1:1",
                "--sv1-port",
                str(port),
            ],
            tmp_path,
        )
    assert result.returncode == 1 and "pick another --sv1-port" in result.stderr, result.stderr

"""`nutx proxy start` refuses bad flags and missing pools with one line that says what to do."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from nutx_cli.errors import NutxError
from nutx_cli.proxy.run import parse_host_port

AUTHORITY_KEY = "9auqWEzQDVyd2oe1JVGFLMLHZtCo2FFqZwtKA5gd9xbuEu7PH72"  # SRI's public test key (stratum.json)


def test_parse_host_port() -> None:
    assert parse_host_port("127.0.0.1:34254") == ("127.0.0.1", 34254)
    assert parse_host_port("[::1]:3333") == ("::1", 3333)
    for bad in ("nohost", ":1", "host:", "host:0", "host:70000", "host:x"):
        with pytest.raises(NutxError):
            parse_host_port(bad)


def run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nutx_cli", "proxy", "start", "--data-dir", str(home / "proxy"),
                           *args], check=False, capture_output=True, text=True, timeout=60,
                          env={"HOME": str(home), "PATH": ""})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "no pool found at"),
        (["--pool", "nohost"], "--pool 'nohost' is not HOST:PORT"),
        (["--pool", "127.0.0.1:34254"], "--pool needs --authority-key KEY"),
        (["--pool", "127.0.0.1:34254", "--authority-key", "9auqWEzQ"], "--authority-key: "),
    ],
)
def test_bad_setup_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = run(args, tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_sv1_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(["--pool", "127.0.0.1:1", "--authority-key", AUTHORITY_KEY, "--mint", "http://127.0.0.1:1",
                      "--sv1-port", str(port)], tmp_path)
    assert result.returncode == 1 and "pick another --sv1-port" in result.stderr, result.stderr

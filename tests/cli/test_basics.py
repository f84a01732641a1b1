"""The `nutx` entry point and the per-role TOML config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from nutx_cli import __version__
from nutx_cli.cli.config import ConfigError, apply_config


def _nutx(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nutx_cli", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_version_and_help() -> None:
    out = _nutx("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"nutx {__version__}"
    out = _nutx("--help")
    assert out.returncode == 0 and "--log-level" in out.stdout


def test_bad_log_level_is_one_line() -> None:
    out = _nutx("--log-level", "loud", "--help")
    # --help is eager, so check the callback path with a real subcommand-less call instead
    out = _nutx("--log-level", "loud", "nothing")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr


def _probe_app(seen: dict[str, object]) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def start(
        ctx: typer.Context,
        data_dir: Path = typer.Option(..., "--data-dir"),
        maturity: int = typer.Option(100, "--maturity"),
        network_difficulty: str = typer.Option("1", "--network-difficulty"),
    ) -> None:
        seen.update(apply_config(ctx, data_dir))

    return app


def test_config_fills_defaults_but_flags_win(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('maturity = 5\nnetwork-difficulty = "0.5"\n')
    seen: dict[str, object] = {}
    result = CliRunner().invoke(_probe_app(seen), ["--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert seen["maturity"] == 5 and seen["network_difficulty"] == "0.5"
    result = CliRunner().invoke(_probe_app(seen), ["--data-dir", str(tmp_path), "--maturity", "7"])
    assert seen["maturity"] == 7


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = 1\n", "unknown key 'colour'"),
        ("maturity = 'many'\n", "bad value for 'maturity'"),
        ("[[", "not valid TOML"),
    ],
)
def test_config_errors(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "config.toml").write_text(text)
    result = CliRunner().invoke(_probe_app({}), ["--data-dir", str(tmp_path)])
    assert isinstance(result.exception, ConfigError)
    assert message in str(result.exception)

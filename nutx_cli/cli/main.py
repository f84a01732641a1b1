"""The `nutx` command: one Typer app with a subcommand per role (DESIGN.md §1)."""

from __future__ import annotations

import logging
import sys

import typer

from nutx_cli import __version__
from nutx_cli.errors import NutxError

app = typer.Typer(
    name="nutx",
    help="A Bitcoin mining pool that pays its miners in Cashu ecash.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nutx {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning or error."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    level = logging.getLevelName(log_level.upper())
    if not isinstance(level, int):
        raise NutxError(f"unknown --log-level {log_level!r}; use debug, info, warning or error")
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level > logging.DEBUG:  # one line per HTTP request drowns what matters
        for noisy in ("httpx", "httpcore", "uvicorn.access"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def _register_roles() -> None:
    """Add each role that exists. A role is listed only once it works (no stubs)."""
    from nutx_cli.cli import mine, mint, node, pool, proxy, tui, up, wallet

    mine.register(app)
    mint.register(app)
    node.register(app)
    pool.register(app)
    proxy.register(app)
    tui.register(app)
    up.register(app)
    wallet.register(app)


def run() -> None:
    """Console entry point: one-line errors, never a traceback."""
    _register_roles()
    try:
        app()
    except NutxError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)

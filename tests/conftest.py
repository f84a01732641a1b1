"""Shared test fixtures: the official vectors live in ../shared/vectors relative to the repo root."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nutx_cli.mint import Mint
from tests.helpers.lnbits import LNbitsServer
from tests.helpers.mint import ServerThread, served
from tests.helpers.postgres import PostgresServer, postgres_server

REPO_ROOT = Path(__file__).resolve().parent.parent
VECTORS_DIR = REPO_ROOT.parent / "shared" / "vectors"


def load_vectors(name: str) -> Any:
    """Load `../shared/vectors/<name>.json`; fail loudly if the file is missing."""
    path = VECTORS_DIR / f"{name}.json"
    if not path.exists():
        pytest.fail(f"test vectors not found at {path}: the repo must sit beside shared/")
    return json.loads(path.read_text())


@pytest.fixture
def served_mint(tmp_path: Path) -> Iterator[tuple[Mint, ServerThread]]:
    with served(tmp_path / "mint") as pair:
        yield pair


@pytest.fixture(scope="session")
def lnbits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LNbitsServer]:
    """One real LNbits (FakeWallet) per test session; its tests share an xdist group, so one process."""
    server = LNbitsServer(tmp_path_factory.mktemp("lnbits"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server per test session (per xdist worker), stopped at its end."""
    with postgres_server() as server:
        yield server


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """A fresh database on the session's server."""
    return pg_server.new_database()


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> str | None:
    """The mint's `--database`: None (SQLite in the data dir) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("pg_url"))

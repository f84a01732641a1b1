"""Shared test fixtures: the official vectors live in ../shared/vectors relative to the repo root."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nutx_cli.mint import Mint
from tests.helpers.lnbits import LNbitsServer
from tests.helpers.mint import ServerThread

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
    mint = Mint.open(tmp_path / "mint")
    server = ServerThread(mint)
    try:
        yield mint, server
    finally:
        server.stop()
        mint.close()


@pytest.fixture(scope="session")
def lnbits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LNbitsServer]:
    """One real LNbits (FakeWallet) per test session; its tests share an xdist group, so one process."""
    server = LNbitsServer(tmp_path_factory.mktemp("lnbits"))
    try:
        yield server
    finally:
        server.stop()

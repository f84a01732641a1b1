"""The Cashu mint inside the pool (DESIGN §4–§5, §7): keysets, store, share signing, epochs, HTTP API."""

from nutx_cli.mint.errors import MintError
from nutx_cli.mint.http import create_app
from nutx_cli.mint.lightning import FakeBackend, LightningBackend
from nutx_cli.mint.service import EpochInfo, Mint

__all__ = ["EpochInfo", "FakeBackend", "LightningBackend", "Mint", "MintError", "create_app"]

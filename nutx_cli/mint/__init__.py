"""The Cashu mint inside the pool (DESIGN §4–§5, §7): keysets, store, share signing, epochs, HTTP API.

`service.Mint` is the front; each concept is a module of its own (keysets, epochs, shares, inputs,
outputs, swap, restore, mint_quotes, melt, info) over one store (`store`, the only place with SQL).

Every request follows the same shape: validate shapes and keysets, verify proofs and compute
signatures *outside* the store lock (the expensive part), then one transaction re-checks what
can race (spent/pending Ys, reused B_, epoch status, quote state) and writes everything or
nothing. Signatures are deterministic (NUT-12 nonce from k and B_), so signing early and
discarding on a refusal is harmless.
"""

from nutx_cli.mint.errors import MintError
from nutx_cli.mint.http import create_app
from nutx_cli.mint.lightning import FakeBackend, LightningBackend
from nutx_cli.mint.service import Mint

__all__ = ["FakeBackend", "LightningBackend", "Mint", "MintError", "create_app"]

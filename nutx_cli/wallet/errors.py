"""The wallet's own errors (the mint client's are in `client`, the store's in `store`)."""

from nutx_cli.errors import NutxError


class WalletError(NutxError):
    """Something the wallet cannot do, with what to do about it."""


class DleqFailure(WalletError):
    """The mint's signature does not prove it used its published key: kept as evidence."""

"""nutx: a Bitcoin mining pool that pays its miners in Cashu ecash."""

__version__ = "0.1.0"

"""The base of every error nutx raises on purpose.

Cores raise subclasses with a message a person can act on; the CLI prints that message on one
line (never a traceback) and exits non-zero.
"""


class NutxError(Exception):
    """An expected failure whose message says what was wrong and what to do."""

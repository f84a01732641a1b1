"""`nutx tui`: a Textual dashboard over the pool's admin stats feed (DESIGN.md §5).

Data side (`stats`, `model`, `client`, `wallet_view`) is kept apart from the widgets (`panes`, `app`);
every number is turned into text by the pure functions in `format`.
"""

"""Pure cores: no I/O, no asyncio, no clock (DESIGN.md §2, layer 1)."""

"""What the tests share: processes, the node + pool stack, mint and node fixtures, strategies, recorded data."""

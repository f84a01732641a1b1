"""The CPU miner: an SV2 ecash channel to the pool, hashing processes, and the wallet for its ehash."""

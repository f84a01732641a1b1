"""Stratum V1 for the proxy's downstream miners (spec/stratum.md §7), sans-IO.

`protocol` (JSON lines, 16 KiB cap, JSON-RPC errors), `difficulty` (SV1 difficulty ↔ ladder targets),
`job` (one `mining.notify` job and its headers), `session` (one miner's state machine) and
`translator` (one upstream SV2 ecash channel → SV1 jobs and back). The asyncio side is `nutx_cli.proxy`.
"""

"""Stratum V2: data types, framing, Noise NX, mining messages, extension 0x0001 and the ecash extension 0x4CA5.

Everything here is sans-IO (bytes in, messages out) except `connection`, the one asyncio wrapper.
The contract is `shared/spec/stratum.md` §1–§6.
"""

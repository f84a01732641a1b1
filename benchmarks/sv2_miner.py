"""The scripted SV2 ecash miner of the pool benchmarks: connect, set up, negotiate 0x4CA5, open a channel."""

from nutx_cli.sv2.connection import Connection
from nutx_cli.sv2.ecash import (
    ECASH_EXTENSION,
    OpenExtendedEcashMiningChannel,
    OpenExtendedEcashMiningChannelSuccess,
)
from nutx_cli.sv2.extensions import RequestExtensions
from nutx_cli.sv2.messages import NewExtendedMiningJob, SetNewPrevHash, SetupConnection


async def set_up(port: int, authority: str) -> Connection:
    """A connection with its Noise handshake, SetupConnection and the ecash extension done."""
    conn = await Connection.connect("127.0.0.1", port, authority)
    await conn.send(
        SetupConnection(
            protocol=0,
            min_version=2,
            max_version=2,
            flags=0,
            endpoint_host="127.0.0.1",
            endpoint_port=port,
            vendor="bench",
            hardware_version="",
            firmware="",
            device_id="",
        )
    )
    await conn.recv()
    await conn.send(RequestExtensions(request_id=1, requested_extensions=[ECASH_EXTENSION]))
    await conn.recv()
    await conn.recv()  # SetEcashMint: where the mint is
    return conn


async def open_channel(
    conn: Connection, i: int
) -> tuple[OpenExtendedEcashMiningChannelSuccess, NewExtendedMiningJob, SetNewPrevHash]:
    """Open ecash channel number `i` on `conn` and read its first job and prev hash."""
    await conn.send(
        OpenExtendedEcashMiningChannel(
            request_id=2 + i,
            user_identity=f"bench{i}",
            nominal_hash_rate=0.0,
            max_target=2**256 - 1,
            min_extranonce_size=8,
            unit="ehash",
        )
    )
    ok = await conn.recv()
    assert isinstance(ok, OpenExtendedEcashMiningChannelSuccess), ok
    job = prev = None
    while prev is None:
        msg = await conn.recv()
        if isinstance(msg, NewExtendedMiningJob):
            job = msg
        elif isinstance(msg, SetNewPrevHash):
            prev = msg
    assert job is not None, "the pool sent its prev hash before any job"
    return ok, job, prev

"""The flags of the public listeners' limits (`nutx_cli.core.limits`), declared once for every role.

`nutx pool start` has the SV2 and the HTTP ones, `nutx proxy start` the SV1 ones, `nutx mint serve`
the HTTP ones; like every flag they are also keys of `<data-dir>/config.toml`. 0 turns a limit off.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from nutx_cli.core.limits import HttpLimits, ListenerLimits

MaxConnectionsPerIp = Annotated[
    int,
    typer.Option(
        "--max-connections-per-ip", min=0, help="Open connections one address may hold (0: no cap)."
    ),
]
HandshakeTimeout = Annotated[
    float,
    typer.Option(
        "--handshake-timeout", min=0, help="Seconds from connect to the first message (SV2: with Noise)."
    ),
]
IdleTimeout = Annotated[
    float,
    typer.Option("--idle-timeout", min=0, help="Seconds a connection may send nothing before it is closed."),
]
MaxChannelsPerConnection = Annotated[
    int,
    typer.Option(
        "--max-channels-per-connection", min=0, help="Channels one SV2 connection may open (0: no cap)."
    ),
]
MaxWorkersPerConnection = Annotated[
    int,
    typer.Option(
        "--max-workers-per-connection", min=0, help="Workers one SV1 connection may authorize (0: no cap)."
    ),
]
MaxMessagesPerSecond = Annotated[
    float,
    typer.Option(
        "--max-messages-per-second",
        min=0,
        help="Sustained messages a second per connection; past it the connection is closed (0: no cap).",
    ),
]
MessageBurst = Annotated[
    int,
    typer.Option("--message-burst", min=1, help="Messages a connection may send at once above that rate."),
]
MaxBodyBytes = Annotated[
    int, typer.Option("--max-body-bytes", min=0, help="Largest mint HTTP request body (else 413; 0: no cap).")
]
RateLimit = Annotated[
    float,
    typer.Option(
        "--rate-limit",
        min=0,
        help="Mint quote/swap/mint/melt/mining requests a minute per address (else 429; 0: no limit).",
    ),
]
RateLimitBurst = Annotated[
    int, typer.Option("--rate-limit-burst", min=1, help="Such requests one address may make at once.")
]


def listener_limits(values: dict[str, Any], channels_per_connection: int) -> ListenerLimits:
    """The listener limits of a role's parameters (`apply_config`'s values)."""
    return ListenerLimits(
        connections_per_ip=values["max_connections_per_ip"],
        handshake_timeout=values["handshake_timeout"],
        idle_timeout=values["idle_timeout"],
        channels_per_connection=channels_per_connection,
        messages_per_second=values["max_messages_per_second"],
        message_burst=values["message_burst"],
    )


def http_limits(values: dict[str, Any]) -> HttpLimits:
    return HttpLimits(
        max_body_bytes=values["max_body_bytes"],
        requests_per_minute=values["rate_limit"],
        request_burst=values["rate_limit_burst"],
    )

"""The status bar's one-line reasons for a failed poll (nutx_cli.tui.client.describe_failure)."""

from __future__ import annotations

import httpx
import pytest

from nutx_cli.core.pool_stats import StatsError
from nutx_cli.tui.client import describe_failure

URL = "http://127.0.0.1:3340"
REQUEST = httpx.Request("GET", f"{URL}/v1/pool/stats")


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (httpx.ConnectError("refused", request=REQUEST), f"cannot reach {URL}"),
        (httpx.ReadTimeout("slow", request=REQUEST), f"{URL} does not answer"),
        (httpx.ReadError("", request=REQUEST), f"{URL} closed the connection"),
        (httpx.RemoteProtocolError("peer closed", request=REQUEST), f"{URL} closed the connection"),
        (
            httpx.HTTPStatusError("401", request=REQUEST, response=httpx.Response(401, request=REQUEST)),
            f"{URL} answered HTTP 401: pass the pool's admin token (--admin-token)",
        ),
        (
            StatsError("stats.pool must be a JSON object"),
            "bad stats from the pool: stats.pool must be a JSON object",
        ),
    ],
)
def test_a_failed_poll_is_described_in_words(exc: BaseException, reason: str) -> None:
    assert describe_failure(exc, URL) == reason

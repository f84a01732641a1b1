"""The proxy's admin HTTP listener (DESIGN.md §5): `GET /v1/proxy/stats`, per worker by SV1 user name.

Worker names and hashrates say who mines what, so they are served only here (loopback by default).
The HTTP plumbing is the pool admin's (`start_http`/`stop_http`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI


def create_proxy_admin_app(stats: Callable[[], dict[str, Any]]) -> FastAPI:
    app = FastAPI(title="nutx proxy admin", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/v1/proxy/stats")
    def proxy_stats() -> dict[str, Any]:
        return stats()

    return app

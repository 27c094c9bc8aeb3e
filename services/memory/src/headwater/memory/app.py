"""The memory service. For now it answers health checks; the Store API comes next."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Response, get
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from headwater.common.settings import Settings


@get(["/ok", "/healthz"])
async def healthz() -> dict[str, Any]:
    """Liveness."""
    return {"ok": True}


@get("/readyz")
async def readyz() -> dict[str, Any]:
    """Readiness: nothing to depend on yet."""
    return {"status": "ok", "checks": {}}


@get("/metrics", include_in_schema=False)
async def metrics() -> Response[bytes]:
    """Prometheus text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def create_app(settings: Settings) -> Litestar:
    """Build the memory service."""
    del settings  # the store's database settings arrive with the Store API
    return Litestar(route_handlers=[healthz, readyz, metrics], logging_config=None)

"""Liveness, readiness and Prometheus metrics of the memory service."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.datastructures import State
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from headwater.common.memory_contract import GetItem
from headwater.memory.service import StoreService


@get(["/ok", "/healthz"])
async def healthz() -> dict[str, Any]:
    """Liveness."""
    return {"ok": True}


@get("/health")
async def health() -> dict[str, str]:
    """Liveness on the path other systems' clients probe."""
    return {"status": "ok"}


@get("/readyz")
async def readyz(state: State) -> Response[dict[str, Any]]:
    """Readiness: the store answers."""
    service: StoreService = state.service
    try:
        await service.execute("", [GetItem(namespace=["__readyz__"], key="probe")])
    except Exception:  # noqa: BLE001 - any failure means not ready
        return Response(
            {"status": "unavailable", "checks": {"store": "unavailable"}}, status_code=503
        )
    return Response({"status": "ok", "checks": {"store": "ok"}})


@get("/metrics", include_in_schema=False)
async def metrics() -> Response[bytes]:
    """Prometheus text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


ROUTES = [healthz, health, readyz, metrics]

"""``/ok``, ``/info``, ``/healthz`` (also ``/health``, ``/api/health``), ``/readyz``."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from litestar import Response, get
from sqlalchemy import text

from headwater.api.context import ApiContext

HEADWATER_VERSION = version("headwater-api")


@get(["/ok", "/"], tags=["System"])
async def ok() -> dict[str, Any]:
    """LangGraph's health check."""
    return {"ok": True, "services": {}}


@get("/info", tags=["System"])
async def info() -> dict[str, Any]:
    """Server information (agent-chat-ui calls this on load)."""
    return {
        "version": HEADWATER_VERSION,
        "server": "headwater",
        "flags": {"assistants": True, "crons": True, "langsmith": False},
        "host": {
            "kind": "self-hosted",
            "project_id": None,
            "host_revision_id": None,
            "revision_id": None,
            "tenant_id": None,
        },
    }


@get(["/healthz", "/health", "/api/health"], tags=["System"])
async def healthz() -> dict[str, str]:
    """Liveness: the process answers. Checks no dependency. ``/health`` and ``/api/health``
    are the paths other systems' clients probe."""
    return {"status": "ok"}


@get("/readyz", tags=["System"])
async def readyz(ctx: ApiContext) -> Response[dict[str, Any]]:
    """Readiness: the bus and the database answer."""
    checks: dict[str, str] = {}
    checks["bus"] = "ok" if await ctx.bus.healthy() else "unavailable"
    try:
        async with ctx.sessions() as session:
            await session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:  # noqa: BLE001 - any failure means not ready
        checks["database"] = "unavailable"
    ready = all(v == "ok" for v in checks.values())
    return Response(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


ROUTES = [ok, info, healthz, readyz]

"""``/ok``, ``/info``, ``/healthz`` (also ``/health``, ``/api/health``), ``/readyz``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from litestar import Response, get
from litestar.di import NamedDependency
from sqlalchemy import text

from headwater.api.shared.context import Sessions
from headwater.api.shared.errors import RETRY_AFTER_S
from headwater.api.shared.version import HEADWATER_VERSION
from headwater.common.bus import Bus

READY_TIMEOUT_S = 2.0


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


async def _database_answers(sessions: Sessions) -> bool:
    async with sessions() as session:
        await session.execute(text("SELECT 1"))
    return True


async def _check(probe: Awaitable[bool]) -> str:
    """``ok``, or ``unavailable`` when the probe fails, says no, or takes too long."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            return "ok" if await probe else "unavailable"
    except Exception:  # noqa: BLE001 - any failure means not ready
        return "unavailable"


@get("/readyz", tags=["System"])
async def readyz(
    bus: NamedDependency[Bus], sessions: NamedDependency[Sessions]
) -> Response[dict[str, Any]]:
    """Readiness: the bus and the database answer; ``checks`` names the one that does not."""
    bus_check, database = await asyncio.gather(
        _check(bus.healthy()), _check(_database_answers(sessions))
    )
    checks = {"bus": bus_check, "database": database}
    ready = all(v == "ok" for v in checks.values())
    return Response(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
        headers=None if ready else {"Retry-After": str(RETRY_AFTER_S)},
    )


ROUTES = [ok, info, healthz, readyz]

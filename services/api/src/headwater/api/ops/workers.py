"""``GET /workers``: the worker registry as the console shows it.

Each worker upserts its row every ``HEADWATER_WORKER_HEARTBEAT_S``; one that missed three
beats is ``stale`` (it died or is cut off), and live workers purge such rows later.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.api.ops.schemas import Concurrency, Worker
from headwater.common.db import workers
from headwater.common.db.shapes import iso

STALE_AFTER_BEATS = 3


async def worker_views(
    sessions: async_sessionmaker[AsyncSession], heartbeat_s: float
) -> list[Worker]:
    """Registered workers, newest heartbeat first (``headwater dev``: its in-process one);
    ``heartbeat_s``: how often workers beat (``HEADWATER_WORKER_HEARTBEAT_S``)."""
    stale_after_s = STALE_AFTER_BEATS * heartbeat_s
    async with sessions() as session:
        rows = await workers.list_workers(session, stale_after_s)
    return [
        Worker(
            worker_id=row.worker_id,
            host=row.host,
            pid=row.pid,
            version=row.version,
            graphs=row.graphs,
            concurrency=Concurrency(limit=row.concurrency_limit, used=row.concurrency_used),
            runs=row.runs,
            started_at=iso(row.started_at),
            heartbeat_at=iso(row.heartbeat_at),
            status=row.status,
        )
        for row in rows
    ]

"""The queue's gauges, refreshed when Prometheus scrapes the API (``/metrics``)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.api.ops.queue import queue_view
from headwater.common.bus import Bus
from headwater.common.db.models import RunRow, utcnow
from headwater.common.db.repository import aware
from headwater.common.telemetry.metrics import (
    QUEUE_IN_FLIGHT,
    QUEUE_OLDEST_PENDING,
    QUEUE_PENDING,
    QUEUE_REDELIVERED,
)


async def record_queue(bus: Bus, sessions: async_sessionmaker[AsyncSession]) -> None:
    """Waiting, unacknowledged and redelivered requests from the bus; the oldest pending run's
    age from the database (one query on the ``status`` index)."""
    queue = await queue_view(bus)
    QUEUE_PENDING.set(queue.pending)
    QUEUE_IN_FLIGHT.set(queue.ack_pending)
    QUEUE_REDELIVERED.set(queue.redelivered)
    try:
        async with sessions() as session:
            oldest = await session.scalar(
                select(func.min(RunRow.created_at)).where(RunRow.status == "pending")
            )
    except (SQLAlchemyError, OSError):  # the database is away: unknown, the bus's still shown
        QUEUE_OLDEST_PENDING.set(float("nan"))
        return
    age = (utcnow() - aware(oldest)).total_seconds() if oldest is not None else 0.0
    QUEUE_OLDEST_PENDING.set(max(0.0, age))

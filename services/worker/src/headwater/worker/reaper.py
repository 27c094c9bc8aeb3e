"""Stuck-run recovery: a run whose request never reached the queue is not pending forever.

A request is lost when the API wrote the run row but died before publishing. When the
workers' queue holds nothing (no waiting and no unacknowledged requests) yet a run has been
pending for longer than ``pending_after_s``, its request cannot be anywhere: republish it
from the row. Republishing is safe to repeat: JetStream drops a copy with the same
``Nats-Msg-Id`` inside its duplicate window, and a worker drops a copy of a run that is
already running or finished.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.common.bus import Bus
from headwater.common.db.models import AssistantRow, RunRow, utcnow
from headwater.common.schemas import RunRequest

log = logging.getLogger(__name__)


def request_from_row(run: RunRow, graph_id: str) -> RunRequest:
    """Rebuild a run's bus request from what admission stored."""
    kwargs = run.kwargs or {}
    return RunRequest(
        run_id=run.run_id,
        thread_id=run.thread_id,
        assistant_id=run.assistant_id,
        graph_id=graph_id,
        input=kwargs.get("input"),
        command=kwargs.get("command"),
        config=kwargs.get("config") or {},
        context=kwargs.get("context") or None,
        stream_mode=kwargs.get("stream_mode") or ["values"],
        stream_subgraphs=bool(kwargs.get("subgraphs")),
        interrupt_before=kwargs.get("interrupt_before"),
        interrupt_after=kwargs.get("interrupt_after"),
        checkpoint=kwargs.get("checkpoint"),
        temporary=bool(kwargs.get("temporary")),
        owner=run.owner,
        metadata=run.metadata_ or {},
    )


class StuckRunReaper:
    """Republishes lost run requests; runs beside the worker loop."""

    def __init__(
        self,
        bus: Bus,
        sessions: async_sessionmaker[AsyncSession],
        *,
        pending_after_s: float = 60.0,
        every_s: float = 15.0,
    ) -> None:
        self.bus = bus
        self.sessions = sessions
        self.pending_after_s = pending_after_s
        self.every_s = every_s

    async def run(self) -> None:
        """Sweep every ``every_s`` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.every_s)
            try:
                await self.sweep()
            except Exception:
                log.warning("stuck-run sweep failed", exc_info=True)

    async def sweep(self) -> int:
        """Republish the lost requests; how many."""
        waiting, unacknowledged = await self.bus.queue_stats()
        if waiting or unacknowledged:
            return 0
        cutoff = utcnow() - dt.timedelta(seconds=self.pending_after_s)
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(RunRow, AssistantRow.graph_id)
                    .join(AssistantRow, AssistantRow.assistant_id == RunRow.assistant_id)
                    .where(RunRow.status == "pending", RunRow.created_at < cutoff)
                    .limit(100)
                )
            ).all()
        for run, graph_id in rows:
            log.warning(
                "run %s has been pending with no request in the queue; republishing it", run.run_id
            )
            await self.bus.submit_run(request_from_row(run, graph_id))
        return len(rows)

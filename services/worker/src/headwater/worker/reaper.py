"""Stuck-run recovery: no run stays pending or running forever because a message was lost.

- A request is lost when the API wrote the run row but died before publishing it. A run that
  has been pending for longer than ``pending_after_s`` and whose request is no longer in the
  queue (neither waiting nor delivered-but-unacknowledged: the RUNS stream keeps one subject
  per run) is republished from its row. Republishing is safe to repeat: JetStream drops a
  copy with the same ``Nats-Msg-Id`` inside its duplicate window, and a worker drops a copy
  of a run that is already running or finished.
- A run whose every attempt died with its worker is failed by the claim of its next delivery
  (attempts are counted when a run is claimed; ``HEADWATER_MAX_DELIVER`` bounds them).
- A ``running`` run whose holder stopped beating more than ``stale_after_s`` ago and whose
  request is gone from the queue (a stream purged by hand, a message lost) would never be
  delivered again: it is an orphan, failed visibly.
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
from headwater.worker.failures import record_failure

log = logging.getLogger(__name__)
ORPHANED = {
    "error": "WorkerLost",
    "message": "the run's worker stopped after its deliveries ran out; it will not be retried",
}


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
        webhook=kwargs.get("webhook"),
        durability=kwargs.get("durability"),
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
        db_retry_s: float = 30.0,
        stale_after_s: float | None = None,
    ) -> None:
        self.bus = bus
        self.sessions = sessions
        self.pending_after_s = pending_after_s
        self.every_s = every_s
        self.db_retry_s = db_retry_s
        self.stale_after_s = stale_after_s

    async def run(self) -> None:
        """Sweep every ``every_s`` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.every_s)
            try:
                await self.sweep()
            except Exception:
                log.warning("stuck-run sweep failed", exc_info=True)

    async def sweep(self) -> int:
        """Republish the lost requests and fail the orphaned runs; how many of both."""
        return await self.republish_lost() + await self.fail_orphans()

    async def republish_lost(self) -> int:
        """Republish the requests of pending runs that the queue lost; how many."""
        cutoff = utcnow() - dt.timedelta(seconds=self.pending_after_s)
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(RunRow, AssistantRow.graph_id)
                    .join(AssistantRow, AssistantRow.assistant_id == RunRow.assistant_id)
                    .where(RunRow.status == "pending", RunRow.created_at < cutoff)
                    .order_by(RunRow.created_at)
                    .limit(100)
                )
            ).all()
        republished = 0
        for run, graph_id in rows:
            if await self.bus.has_run_request(run.run_id):
                continue  # queued behind others, or held by a worker: not lost
            log.warning("run %s is pending and its request is gone; republishing it", run.run_id)
            await self.bus.submit_run(request_from_row(run, graph_id))
            republished += 1
        return republished

    async def fail_orphans(self) -> int:
        """Fail the running runs that no worker holds and no delivery will bring back."""
        if self.stale_after_s is None:
            return 0  # no worker heartbeats (tests without presence): nothing tells an orphan
        silent_since = utcnow() - dt.timedelta(seconds=self.stale_after_s)
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(RunRow.run_id, RunRow.thread_id)
                    .where(RunRow.status == "running", RunRow.heartbeat_at < silent_since)
                    .order_by(RunRow.heartbeat_at)
                    .limit(100)
                )
            ).all()
        failed = 0
        for run_id, thread_id in rows:
            if await self.bus.has_run_request(run_id):
                continue  # JetStream delivers it again: the next worker takes the run over
            if await record_failure(
                self.bus,
                self.sessions,
                thread_id=thread_id,
                run_id=run_id,
                error=ORPHANED,
                only_if_active=True,
                db_retry_s=self.db_retry_s,
            ):
                log.error("run %s failed: its worker died and no delivery is left", run_id)
                failed += 1
        return failed

"""A worker's presence in the database: its registry row and its runs' heartbeats.

Every ``interval_s`` one transaction upserts the worker's row (graphs, concurrency, runs in
progress) and refreshes ``heartbeat_at`` of all its runs with a single UPDATE (plus the
first-token time of runs that got one since the last beat). Other workers read a run's
heartbeat at claim time: a run whose holder beats is not taken over when JetStream
redelivers it (after a NATS outage, say); a run whose holder went silent is. A graceful
stop deletes the row; a killed worker's row goes stale and is purged by the survivors.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import secrets
import socket
from importlib.metadata import PackageNotFoundError, version

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.common.db import workers
from headwater.common.db.models import utcnow

log = logging.getLogger(__name__)
PURGE_AFTER_S = 300.0
PURGE_EVERY_BEATS = 30


def worker_version() -> str:
    """The installed headwater-worker version."""
    try:
        return version("headwater-worker")
    except PackageNotFoundError:  # run from a source tree without metadata
        return "unknown"


def new_worker_id(host: str, pid: int) -> str:
    """Unique per process, readable in a list: ``<host>-<pid>-<random>``."""
    return f"{host[:80]}-{pid}-{secrets.token_hex(3)}"


class RunClock:
    """What the worker knows about a run in progress between heartbeats."""

    __slots__ = ("first_token_at", "first_token_written")

    def __init__(self) -> None:
        self.first_token_at: dt.datetime | None = None
        self.first_token_written = False

    def token(self) -> None:
        """An LLM token arrived; the first one is the run's time to first token."""
        if self.first_token_at is None:
            self.first_token_at = utcnow()


class WorkerPresence:
    """Registers the worker, beats for it and its runs, deregisters it."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        graphs: list[str],
        concurrency_limit: int,
        interval_s: float,
    ) -> None:
        self.sessions = sessions
        self.interval_s = max(0.05, interval_s)
        self.stale_after_s = workers.STALE_AFTER_BEATS * self.interval_s
        host, pid = socket.gethostname(), os.getpid()
        self.info = workers.WorkerInfo(
            worker_id=new_worker_id(host, pid),
            host=host,
            pid=pid,
            version=worker_version(),
            graphs=list(graphs),
            concurrency_limit=concurrency_limit,
            started_at=utcnow(),
        )
        self.runs: dict[str, RunClock] = {}
        self._task: asyncio.Task[None] | None = None
        self._beats = 0

    @property
    def worker_id(self) -> str:
        """This process's id in the registry and in ``runs.worker_id``."""
        return self.info.worker_id

    def hold(self, run_id: str) -> RunClock:
        """The run was claimed by this worker: beat for it from now on."""
        return self.runs.setdefault(run_id, RunClock())

    def release(self, run_id: str) -> None:
        """The run ended here (or was handed back): stop beating for it."""
        self.runs.pop(run_id, None)

    async def beat(self) -> None:
        """One heartbeat: the worker's row and all its runs, in one transaction."""
        now = utcnow()
        run_ids = list(self.runs)
        first = {
            run_id: clock.first_token_at
            for run_id, clock in self.runs.items()
            if clock.first_token_at is not None and not clock.first_token_written
        }
        async with self.sessions.begin() as session:
            await workers.upsert_worker(session, self.info, runs=run_ids, now=now)
            held = await workers.heartbeat_runs(
                session, self.worker_id, run_ids, now=now, first_tokens=first
            )
            self._beats += 1
            if self._beats % PURGE_EVERY_BEATS == 1:
                await workers.forget_dead_workers(
                    session,
                    older_than=now - dt.timedelta(seconds=max(PURGE_AFTER_S, self.stale_after_s)),
                )
        for run_id in first:
            if (clock := self.runs.get(run_id)) is not None:
                clock.first_token_written = True
        lost = [run_id for run_id in run_ids if run_id not in held and run_id in self.runs]
        if lost:  # finished meanwhile, or taken over by a worker that thought us dead
            log.debug("no longer holding %s", ", ".join(lost))

    async def _beat_forever(self) -> None:
        while True:
            try:
                await self.beat()
            except Exception:  # an outage: the next beat tries again; never stop beating
                log.warning("worker heartbeat failed", exc_info=True)
            await asyncio.sleep(self.interval_s)

    async def start(self) -> None:
        """Register now (best effort: the database may be down) and keep beating."""
        self._task = asyncio.create_task(self._beat_forever(), name="worker-heartbeat")

    async def stop(self) -> None:
        """Stop beating and leave the registry (a killed worker's row goes stale instead)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            async with self.sessions.begin() as session:
                await workers.delete_worker(session, self.worker_id)
        except Exception:
            log.warning(
                "could not remove worker %s from the registry", self.worker_id, exc_info=True
            )

"""The safety check every waiting stream shares: one query for all their runs.

A stream learns that its run ended from the run's end event. Only if that never comes (the
event expired, a worker died after finishing) does it need the database, so one task per
API process asks for the status of every run a stream asked about recently, every
``interval`` seconds, in one statement; a stream reads the last answer from memory.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.common.db.models import RunRow
from headwater.common.statuses import ACTIVE_RUN_STATUSES

log = logging.getLogger(__name__)

GONE = "__gone__"
"""Status of a run without a row (deleted)."""
CHUNK = 500
"""Run ids per statement."""


class RunStatusWatch:
    """Statuses of the runs streams wait on, refreshed together."""

    _shared: ClassVar[
        weakref.WeakKeyDictionary[async_sessionmaker[AsyncSession], RunStatusWatch]
    ] = weakref.WeakKeyDictionary()

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        interval: float = 2.0,
        give_up_s: float = 60.0,
    ) -> None:
        self.sessions = sessions
        self.interval = interval
        self.give_up_s = give_up_s
        """How long a stream waits for an unreachable bus once its run is final."""
        self.queries = 0
        self._asked: dict[str, float] = {}
        self._known: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def of(
        cls,
        sessions: async_sessionmaker[AsyncSession],
        interval: float = 2.0,
        give_up_s: float = 60.0,
    ) -> RunStatusWatch:
        """The watch shared by every stream that uses these sessions (one per API process)."""
        watch = cls._shared.get(sessions)
        if watch is None:
            watch = cls._shared[sessions] = cls(sessions, interval=interval, give_up_s=give_up_s)
        return watch

    def status(self, run_id: str) -> str | None:
        """The run's last known status: ``None`` until the first check, ``GONE`` without a
        row. Asking keeps the run in the next checks (for a while)."""
        loop = asyncio.get_running_loop()
        self._asked[run_id] = loop.time()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._check_loop(), name="run-status-watch")
        return self._known.get(run_id)

    def is_final(self, run_id: str) -> bool:
        """Whether the last check found the run final or gone."""
        status = self.status(run_id)
        return status is not None and status not in ACTIVE_RUN_STATUSES

    async def _check_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while self._asked:
            await asyncio.sleep(self.interval)
            forget_before = loop.time() - 3 * max(self.interval, 5.0)
            for run_id, asked in list(self._asked.items()):
                if asked < forget_before:
                    del self._asked[run_id]
                    self._known.pop(run_id, None)
            try:
                await self._check(list(self._asked))
            except (SQLAlchemyError, OSError) as exc:  # streams keep waiting; next time, then
                log.warning("checking the status of %d runs failed: %r", len(self._asked), exc)

    async def _check(self, run_ids: list[str]) -> None:
        for start in range(0, len(run_ids), CHUNK):
            chunk = run_ids[start : start + CHUNK]
            query = select(RunRow.run_id, RunRow.status).where(RunRow.run_id.in_(chunk))
            self.queries += 1
            async with self.sessions() as session:
                found = {run_id: status for run_id, status in await session.execute(query)}
            for run_id in chunk:
                self._known[run_id] = found.get(run_id, GONE)


@dataclass(frozen=True, slots=True)
class RunStatusProbe:
    """One run's view of the watch; calling it answers from memory (no query).

    ``await probe()`` is the run's status as last checked, ``"pending"`` before the first
    check, ``None`` when the run is gone.
    """

    watch: RunStatusWatch
    run_id: str
    healthy: Callable[[], Awaitable[bool]] | None = None

    async def __call__(self) -> str | None:
        status = self.watch.status(self.run_id)
        if status is None:
            return "pending"
        return None if status == GONE else status

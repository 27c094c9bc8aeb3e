"""What the run controllers do beyond admission: find a caller's run, list, delete, cancel
many, let a cancelled run settle, and watch a run's status. No Litestar here (an
import-linter contract)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select, update

from headwater.api.auth.authorization import CarriesAuth, require_visible
from headwater.api.runs.admission import RunAdmission
from headwater.api.shared.context import ApiContext, Sessions
from headwater.api.shared.errors import NotFound, Unprocessable
from headwater.api.shared.ids import require_uuid
from headwater.api.shared.schemas import CancelMany
from headwater.api.streaming import RunStatusProbe, RunStatusWatch
from headwater.common.bus import Bus, EventSubscription
from headwater.common.codec import dumps
from headwater.common.db import repository
from headwater.common.db.models import RunRow, ThreadRow, utcnow
from headwater.common.settings import Settings
from headwater.common.statuses import ACTIVE_RUN_STATUSES, RunStatus
from headwater.common.subjects import END_EVENT

NO_RUN_TO_CANCEL = (
    "No matching runs to cancel. Please verify the thread ID and run IDs are correct, "
    "and the runs haven't been deleted or completed."
)
CANCEL_SETTLE_S = 2.0
"""How long a cancel waits for the worker to stop the run before answering."""


@dataclass(frozen=True, slots=True)
class RunService:
    """What the run endpoints use beyond creating a run: admission (which still holds the
    lifespan's context), the bus, database sessions, settings and the auth handlers. The run
    controllers declare it as ``runs`` (see :mod:`headwater.api.system.dependencies`)."""

    admission: RunAdmission
    bus: Bus
    sessions: Sessions
    settings: Settings
    auth: CarriesAuth

    @classmethod
    def of(cls, ctx: ApiContext) -> RunService:
        """From the lifespan's context (the fronts hold one)."""
        return cls(RunAdmission(ctx), ctx.bus, ctx.sessions, ctx.settings, ctx)

    def status_check(self, run_id: str) -> RunStatusProbe:
        """The run's status from the watch every stream of this process shares (no query)."""
        settings = self.settings
        watch = RunStatusWatch.of(self.sessions, settings.status_check_s, settings.stream_give_up_s)
        return RunStatusProbe(watch, run_id, self.bus.healthy)

    def values_fallback(self, thread_id: str) -> Callable[[], Awaitable[bytes]]:
        """The thread's values (or its error) as ``/wait`` answers them when the run's own end
        event carries none."""

        async def fallback() -> bytes:
            async with self.sessions() as session:
                thread = await session.get(ThreadRow, thread_id)
            if thread is None:
                return b"{}"
            if thread.status == "error" and thread.error:
                return dumps({"__error__": thread.error})
            return dumps(thread.values if thread.values is not None else {})

        return fallback

    def canceller(self, run: RunRow) -> Callable[[], Awaitable[None]]:
        """What a stream calls when its client goes away with ``on_disconnect=cancel``."""

        async def cancel() -> None:
            await self.admission.cancel(run, "interrupt")

        return cancel

    async def owned_run(
        self, thread_id: str, run_id: str, owner: str, action: str = "read"
    ) -> RunRow:
        """The caller's run on that thread, or a 404 (also when the auth handlers hide it)."""
        require_uuid(thread_id, "thread")
        require_uuid(run_id, "run")
        async with self.sessions() as session:
            run = await session.get(RunRow, run_id)
        detail = f"Run {run_id} not found"
        if run is None or run.thread_id != thread_id or run.owner != owner:
            raise NotFound(detail)
        value = {"thread_id": thread_id, "run_id": run_id, "metadata": run.metadata_}
        await require_visible(self.auth, "threads", action, value, run.metadata_, detail)
        return run

    async def list_runs(
        self, thread_id: str, owner: str, limit: int, offset: int, status: str | None
    ) -> list[RunRow]:
        """A thread's runs, newest first (404 unless the thread is the caller's)."""
        require_uuid(thread_id, "thread")
        async with self.sessions() as session:
            thread = await session.get(ThreadRow, thread_id)
            if thread is None or thread.owner != owner:
                raise NotFound(f"Thread with ID {thread_id} not found")
            rows = await repository.list_runs(
                session, thread_id, limit=limit, offset=offset, status=status
            )
        return list(rows)

    async def delete_run(self, thread_id: str, run_id: str, owner: str) -> None:
        """Delete one of the caller's runs."""
        run = await self.owned_run(thread_id, run_id, owner, "delete")
        async with self.sessions.begin() as session:
            row = await session.get(RunRow, run.run_id)
            if row is not None:
                await session.delete(row)

    async def cancel_many(self, data: CancelMany, owner: str, action: str) -> None:
        """Cancel runs by id on a thread, or every pending and/or running run of the caller."""
        if (data.run_ids is None) == (data.status is None):
            raise Unprocessable("give either thread_id with run_ids, or status")
        async with self.sessions() as session:
            query = select(RunRow).where(RunRow.owner == owner)
            if data.run_ids is not None:
                if not data.thread_id:
                    raise Unprocessable("run_ids needs thread_id")
                query = query.where(
                    RunRow.thread_id == data.thread_id, RunRow.run_id.in_(data.run_ids)
                )
            else:
                status = data.status  # not None here: checked above
                wanted: tuple[RunStatus, ...] = (
                    ACTIVE_RUN_STATUSES if status == "all" or status is None else (status,)
                )
                query = query.where(RunRow.status.in_(wanted))
            runs = (await session.scalars(query)).all()
        for run in runs:
            await self.admission.cancel(run, action)

    async def settle(self, run: RunRow, subscription: EventSubscription, action: str) -> None:
        """Give the worker a moment to stop the run and record it (then the run and its thread
        read as they settled). A run still going after that reads ``interrupted`` at once, as in
        langgraph-api; its worker records the same when it stops."""
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + CANCEL_SETTLE_S
            while (left := deadline - loop.time()) > 0:
                batch = await subscription.next_batch(left)
                if any(item.event == END_EVENT for item in batch):
                    return
        finally:
            await subscription.close()
        if action != "rollback":
            running: RunStatus = "running"
            stopped: RunStatus = "interrupted"
            async with self.sessions.begin() as session:
                await session.execute(
                    update(RunRow)
                    .where(RunRow.run_id == run.run_id, RunRow.status == running)
                    .values(status=stopped, updated_at=utcnow())
                )

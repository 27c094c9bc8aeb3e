"""Recording a run as failed: the row, the thread, and the readers of its stream."""

from __future__ import annotations

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.common.bus import Bus
from headwater.common.codec import dumps
from headwater.common.db import repository
from headwater.common.outages import ride_out
from headwater.common.schemas import RunEnd, encoder
from headwater.common.statuses import ACTIVE_RUN_STATUSES
from headwater.common.subjects import END_EVENT
from headwater.common.telemetry.metrics import RUNS_FINISHED

SHOWN_ERRORS = frozenset(
    {
        "ValueError",
        "TypeError",
        "KeyError",
        "AttributeError",
        "RuntimeError",
        "RecursionError",
        "TimeoutError",
        "InvalidUpdateError",
        "GraphBubbleUp",
        "EmptyInputError",
        "TaskNotFound",
        "HTTPException",
        "UserInterrupt",
        "GraphRecursionError",
    }
)
"""Exception types whose message a client sees, as langgraph-api's list; any other exception's
message may carry internals (a DSN, a path), so it reaches the worker's log only."""


def client_error(exc: BaseException) -> dict[str, str]:
    """``{"error": type, "message": …}`` as the run's stream, thread and webhook show it."""
    name = type(exc).__name__
    shown = any(cls.__name__ in SHOWN_ERRORS for cls in type(exc).__mro__)
    return {"error": name, "message": str(exc) if shown else "An internal error occurred"}


WORKER_LOST = {
    "error": "WorkerLost",
    "message": "the run's worker stopped during every attempt; it will not be retried",
}


async def record_failure(
    bus: Bus,
    sessions: async_sessionmaker[AsyncSession],
    *,
    thread_id: str,
    run_id: str,
    error: dict[str, str],
    only_if_active: bool = False,
    db_retry_s: float = 30.0,
    bus_retry_s: float = 30.0,
) -> bool:
    """Mark the run ``error`` without touching its checkpoints; end its stream with the error.

    ``only_if_active``: leave a run that already reached a final status alone. False when
    nothing was recorded. The write and the end event wait out outages (``*_retry_s``).
    """

    async def record() -> bool:
        async with sessions.begin() as session:
            if only_if_active:
                status = await repository.run_status(session, run_id)
                if status not in ACTIVE_RUN_STATUSES:
                    return False
            await repository.finish_run(
                session,
                run_id=run_id,
                thread_id=thread_id,
                run_status="error",
                thread_status="error",
                error=error,
                update_values=False,
            )
        return True

    if not await ride_out(record, what=f"failing run {run_id}", budget_s=db_retry_s):
        return False
    RUNS_FINISHED.labels("error").inc()
    await bus.publish_event(thread_id, run_id, "error", dumps(error))
    end = RunEnd(run_id=run_id, status="error", result=msgspec.Raw(dumps({"__error__": error})))
    data = encoder.encode(end)

    async def announce() -> int:
        return await bus.publish_event_confirmed(thread_id, run_id, END_EVENT, data)

    await ride_out(announce, what=f"announcing the end of run {run_id}", budget_s=bus_retry_s)
    return True

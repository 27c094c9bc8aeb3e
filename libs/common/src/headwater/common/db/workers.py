"""The worker registry: each worker's row (upserted at every heartbeat, deleted on a graceful
stop) and the batched per-run heartbeat that tells other workers a run's holder is alive.

Writers are the workers; readers (the API's workers endpoint, the console) call
:func:`list_workers`. Times come from the writing process's clock (hosts keep NTP time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Literal

import msgspec
from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.common.db.models import RunRow, WorkerRow, utcnow
from headwater.common.db.repository import aware

WorkerStatus = Literal["alive", "stale"]
STALE_AFTER_BEATS = 3
"""A worker (and each run it holds) is stale after this many missed heartbeats: readers pass
``STALE_AFTER_BEATS * settings.worker_heartbeat_s`` to :func:`list_workers`."""


class WorkerView(msgspec.Struct, frozen=True, kw_only=True):
    """A worker as readers see it: its row plus whether it still beats."""

    worker_id: str
    host: str
    pid: int
    version: str
    graphs: list[str]
    concurrency_limit: int
    concurrency_used: int
    runs: list[str]
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    status: WorkerStatus


class WorkerInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What a worker says about itself; fixed for the life of the process."""

    worker_id: str
    host: str
    pid: int
    version: str
    graphs: list[str]
    concurrency_limit: int
    started_at: dt.datetime


async def upsert_worker(
    session: AsyncSession, info: WorkerInfo, *, runs: Sequence[str], now: dt.datetime
) -> None:
    """Insert or refresh the worker's row (one statement)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    values = {
        "worker_id": info.worker_id,
        "host": info.host,
        "pid": info.pid,
        "version": info.version,
        "graphs": list(info.graphs),
        "concurrency_limit": info.concurrency_limit,
        "concurrency_used": len(runs),
        "runs": list(runs),
        "started_at": info.started_at,
        "heartbeat_at": now,
    }
    statement = insert(WorkerRow).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["worker_id"],
            set_={
                "concurrency_used": statement.excluded.concurrency_used,
                "runs": statement.excluded.runs,
                "heartbeat_at": statement.excluded.heartbeat_at,
            },
        )
    )


async def heartbeat_runs(
    session: AsyncSession,
    worker_id: str,
    run_ids: Sequence[str],
    *,
    now: dt.datetime,
    first_tokens: Mapping[str, dt.datetime] | None = None,
) -> set[str]:
    """One UPDATE for all of a worker's runs: ``heartbeat_at = now`` (and ``first_token_at``
    for runs whose first token came since the last beat). Returns the ids the worker still
    holds (a run another worker took over, or one handed back, is not touched)."""
    if not run_ids:
        return set()
    values: dict[str, object] = {"heartbeat_at": now}
    if first_tokens:
        values["first_token_at"] = case(
            {run_id: at for run_id, at in first_tokens.items()},
            value=RunRow.run_id,
            else_=RunRow.first_token_at,
        )
    result = await session.execute(
        update(RunRow)
        .where(
            RunRow.run_id.in_(list(run_ids)),
            RunRow.worker_id == worker_id,
            RunRow.heartbeat_at.is_not(None),  # handed back: see repository.release_run
        )
        .values(**values)
        .returning(RunRow.run_id)
    )
    return set(result.scalars())


async def delete_worker(session: AsyncSession, worker_id: str) -> None:
    """A graceful stop: the worker leaves the registry at once."""
    await session.execute(delete(WorkerRow).where(WorkerRow.worker_id == worker_id))


async def forget_dead_workers(session: AsyncSession, *, older_than: dt.datetime) -> int:
    """Remove rows of workers that stopped beating long ago (killed, never deleted)."""
    result = await session.execute(delete(WorkerRow).where(WorkerRow.heartbeat_at < older_than))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def list_workers(session: AsyncSession, stale_after_s: float) -> list[WorkerView]:
    """Every registered worker, newest heartbeat first; ``stale`` when its last heartbeat is
    older than ``stale_after_s`` (it died without leaving; live workers purge such rows
    after a while)."""
    cutoff = utcnow() - dt.timedelta(seconds=stale_after_s)
    rows = (
        await session.scalars(
            select(WorkerRow).order_by(WorkerRow.heartbeat_at.desc(), WorkerRow.worker_id)
        )
    ).all()
    return [
        WorkerView(
            worker_id=row.worker_id,
            host=row.host,
            pid=row.pid,
            version=row.version,
            graphs=list(row.graphs or []),
            concurrency_limit=row.concurrency_limit,
            concurrency_used=row.concurrency_used,
            runs=list(row.runs or []),
            started_at=aware(row.started_at),
            heartbeat_at=aware(row.heartbeat_at),
            status="alive" if aware(row.heartbeat_at) >= cutoff else "stale",
        )
        for row in rows
    ]

"""SQL for crons: search, and the scheduler's due list and its atomic claim of one fire.

Functions take an ``AsyncSession`` and never commit; callers own the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.common.db.models import CronRow
from headwater.common.db.repository import SortOrder, metadata_matches

SORT_COLUMNS = (
    "cron_id",
    "assistant_id",
    "thread_id",
    "created_at",
    "updated_at",
    "next_run_date",
    "end_time",
)


async def search_crons(
    session: AsyncSession,
    *,
    owner: str,
    assistant_id: str | None = None,
    thread_id: str | None = None,
    enabled: bool | None = None,
    metadata: dict[str, Any] | None = None,
    limit: int | None = 10,
    offset: int = 0,
    sort_by: str = "created_at",
    sort_order: SortOrder = "desc",
) -> tuple[Sequence[CronRow], int]:
    """The owner's crons matching the filters, one page (all with ``limit=None``), and the total."""
    dialect = session.get_bind().dialect.name
    where: list[ColumnElement[bool]] = [
        CronRow.owner == owner,
        metadata_matches(CronRow.metadata_, metadata or {}, dialect),
    ]
    if assistant_id:
        where.append(CronRow.assistant_id == assistant_id)
    if thread_id:
        where.append(CronRow.thread_id == thread_id)
    if enabled is not None:
        where.append(CronRow.enabled.is_(enabled))
    column = getattr(CronRow, sort_by if sort_by in SORT_COLUMNS else "created_at")
    ascending = sort_order == "asc"
    order = [column.asc() if ascending else column.desc()]
    order.append(CronRow.cron_id.asc() if ascending else CronRow.cron_id.desc())
    query = select(CronRow).where(*where).order_by(*order).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    rows = (await session.scalars(query)).all()
    total = await session.scalar(select(func.count()).select_from(CronRow).where(*where))
    return rows, int(total or 0)


async def due_crons(session: AsyncSession, now: dt.datetime, limit: int) -> Sequence[CronRow]:
    """Enabled crons whose next run is due at ``now`` and whose end time has not passed."""
    query = (
        select(CronRow)
        .where(
            CronRow.enabled.is_(True),
            CronRow.next_run_date.is_not(None),
            CronRow.next_run_date <= now,
            or_(CronRow.end_time.is_(None), CronRow.end_time >= now),
        )
        .order_by(CronRow.next_run_date)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def claim_fire(
    session: AsyncSession, cron_id: str, due: dt.datetime, next_run_date: dt.datetime | None
) -> bool:
    """Take the fire due at ``due``: move ``next_run_date`` on, only if it still is ``due``.

    A conditional UPDATE (compare-and-set): of any number of schedulers that read the same due
    cron, exactly one sees a row change and fires it; the others find it already moved.
    """
    result = await session.execute(
        update(CronRow)
        .where(CronRow.cron_id == cron_id, CronRow.next_run_date == due, CronRow.enabled.is_(True))
        .values(next_run_date=next_run_date)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def delete_cron(session: AsyncSession, cron_id: str) -> bool:
    """Delete a cron; False when it did not exist."""
    result = await session.execute(delete(CronRow).where(CronRow.cron_id == cron_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def delete_crons_of(
    session: AsyncSession, *, thread_id: str | None = None, assistant_id: str | None = None
) -> int:
    """Delete the crons of a thread or an assistant that is going away; how many."""
    query = delete(CronRow)
    if thread_id is not None:
        query = query.where(CronRow.thread_id == thread_id)
    elif assistant_id is not None:
        query = query.where(CronRow.assistant_id == assistant_id)
    else:
        raise ValueError("delete_crons_of needs a thread_id or an assistant_id")
    result = await session.execute(query)
    return int(result.rowcount)  # type: ignore[attr-defined]

"""The SQL the console's views need beyond the repository: recent and changed runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.common.db.models import RunRow
from headwater.common.db.repository import metadata_matches

CHANGED_PER_LOOK = 1000
"""At most this many changed runs per look of the live feed (the rest come next time)."""


async def changed_runs(session: AsyncSession, since: dt.datetime) -> Sequence[RunRow]:
    """Runs of every owner updated after ``since``, oldest change first."""
    query = (
        select(RunRow)
        .where(RunRow.updated_at > since)
        .order_by(RunRow.updated_at)
        .limit(CHANGED_PER_LOOK)
    )
    return (await session.scalars(query)).all()


async def recent_runs(session: AsyncSession, owner: str, limit: int) -> Sequence[RunRow]:
    """The owner's newest runs."""
    query = (
        select(RunRow)
        .where(RunRow.owner == owner)
        .order_by(RunRow.created_at.desc(), RunRow.run_id.desc())
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def search_runs(
    session: AsyncSession,
    owner: str,
    *,
    statuses: list[str] | None,
    assistant_id: str | None,
    thread_id: str | None,
    metadata: dict[str, Any],
    limit: int,
    offset: int,
) -> Sequence[RunRow]:
    """The owner's runs across threads matching the filters, newest first."""
    where = [RunRow.owner == owner, metadata_matches(RunRow.metadata_, metadata, _dialect(session))]
    if statuses:
        where.append(RunRow.status.in_(statuses))
    if assistant_id:
        where.append(RunRow.assistant_id == assistant_id)
    if thread_id:
        where.append(RunRow.thread_id == thread_id)
    query = (
        select(RunRow)
        .where(*where)
        .order_by(RunRow.created_at.desc(), RunRow.run_id.desc())
        .limit(limit)
        .offset(offset)
    )
    return (await session.scalars(query)).all()


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name

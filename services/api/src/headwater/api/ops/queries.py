"""The SQL the console's views need beyond the repository: recent and changed runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.common.db.models import RunRow

CHANGED_PER_LOOK = 1000
"""At most this many changed runs per look of the live feed (the rest come next time)."""


async def changed_runs(session: AsyncSession, since: dt.datetime) -> Sequence[RunRow]:
    """Runs of every owner changed after ``since`` (status, or a running run's first token),
    oldest change first. Indexes on ``updated_at`` and ``status`` serve it."""
    query = (
        select(RunRow)
        .where(
            or_(
                RunRow.updated_at > since,
                and_(RunRow.status == "running", RunRow.first_token_at > since),
            )
        )
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

"""What the console's run endpoints do, without HTTP: the caller's runs across threads."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.api.auth.authorization import UNPAGED, AuthHandlers, only_matching, search_rule
from headwater.api.ops.run_view import run_views
from headwater.api.ops.schemas import RunSearch, RunView
from headwater.common.db import repository
from headwater.common.db.models import RunRow


async def search_runs(
    sessions: async_sessionmaker[AsyncSession], auth: AuthHandlers, owner: str, data: RunSearch
) -> list[RunView]:
    """The caller's runs, newest first, filtered as ``data`` says and as the project's custom
    auth allows (a filter the database cannot apply is applied here, before paging)."""
    wanted, residual = await search_rule(
        auth, "threads", {"metadata": dict(data.metadata or {})}, data.metadata
    )
    async with sessions() as session:
        rows = await repository.search_runs(
            session,
            owner,
            status=data.statuses,
            assistant_id=data.assistant_id,
            thread_id=data.thread_id,
            metadata=wanted,
            limit=data.limit if residual is None else UNPAGED,
            offset=data.offset if residual is None else 0,
        )
        if residual is not None:
            rows = only_matching(rows, residual, lambda row: row.metadata_)
            rows = rows[data.offset : data.offset + data.limit]
        return await run_views(session, rows)


async def run_view_of(sessions: async_sessionmaker[AsyncSession], run: RunRow) -> RunView:
    """One run as the console shows it (with its worker and times)."""
    async with sessions() as session:
        (view,) = await run_views(session, [run])
    return view

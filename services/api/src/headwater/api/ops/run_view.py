"""A run row as the console sees it: the LangGraph ``Run`` plus its worker, times and error."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.api.ops.schemas import RunView
from headwater.common.db.models import RunRow, ThreadRow
from headwater.common.db.shapes import iso


def _ms(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((_aware(end) - _aware(start)).total_seconds() * 1000.0, 3)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _when(value: dt.datetime | None) -> str | None:
    return iso(value) if value is not None else None


def _error_text(error: Any) -> str | None:
    if error is None or error == "":
        return None
    if isinstance(error, dict):
        kind, message = error.get("error"), error.get("message")
        return f"{kind}: {message}" if kind and message else str(message or kind or error)
    return str(error)


def run_view(row: RunRow, error: Any = None) -> RunView:
    """The run (``error``: what its thread recorded, for a failed run), with ``queued_ms``
    (created → started), ``ttft_ms`` (started → first token)
    and ``duration_ms`` (started → ended, or created → ended when it never started)."""
    started, first_token, ended = row.started_at, row.first_token_at, row.ended_at
    return RunView(
        run_id=row.run_id,
        thread_id=row.thread_id,
        assistant_id=row.assistant_id,
        created_at=iso(row.created_at),
        updated_at=iso(row.updated_at),
        status=row.status,
        metadata=row.metadata_ or {},
        kwargs=row.kwargs or {},
        multitask_strategy=row.multitask_strategy,
        attempt=row.attempt or 0,
        worker_id=row.worker_id,
        started_at=_when(started),
        first_token_at=_when(first_token),
        ended_at=_when(ended),
        queued_ms=_ms(row.created_at, started),
        ttft_ms=_ms(started, first_token),
        duration_ms=_ms(started or row.created_at, ended),
        error=_error_text(error),
    )


async def run_views(session: AsyncSession, rows: Sequence[RunRow]) -> list[RunView]:
    """Views of ``rows``; a failed run's error is its thread's (one query for the page)."""
    failed = {row.thread_id for row in rows if row.status == "error"}
    errors: dict[str, Any] = {}
    if failed:
        query = select(ThreadRow.thread_id, ThreadRow.error).where(
            ThreadRow.thread_id.in_(failed), ThreadRow.status == "error"
        )
        errors = dict((await session.execute(query)).all())
    return [
        run_view(row, errors.get(row.thread_id) if row.status == "error" else None) for row in rows
    ]

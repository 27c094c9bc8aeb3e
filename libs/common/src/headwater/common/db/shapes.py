"""Rows as the LangGraph Server API shows them, for whoever sends them: API and webhooks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from headwater.common.db.models import RunRow
from headwater.common.db.repository import aware


def iso(value: dt.datetime) -> str:
    """``2026-11-22T08:21:11.348618+00:00``."""
    return aware(value).isoformat()


def run_json(row: RunRow) -> dict[str, Any]:
    """``Run``."""
    return {
        "run_id": row.run_id,
        "thread_id": row.thread_id,
        "assistant_id": row.assistant_id,
        "metadata": row.metadata_,
        "status": row.status,
        "kwargs": row.kwargs,
        "multitask_strategy": row.multitask_strategy,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }

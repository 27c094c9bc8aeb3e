"""Rows → the LangGraph Server API's JSON shapes."""

from __future__ import annotations

from typing import Any

from headwater.common.db.models import AssistantRow, ThreadRow
from headwater.common.db.shapes import iso, run_json

__all__ = [
    "EMPTY_STATE",
    "assistant_json",
    "iso",
    "run_json",
    "thread_json",
    "thread_ttl_json",
]


def assistant_json(row: AssistantRow) -> dict[str, Any]:
    """``Assistant``."""
    return {
        "assistant_id": row.assistant_id,
        "graph_id": row.graph_id,
        "config": row.config,
        "context": row.context,
        "metadata": row.metadata_,
        "name": row.name,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "version": row.version,
        "description": row.description,
    }


def thread_ttl_json(row: ThreadRow) -> dict[str, Any] | None:
    """``?include=ttl``: the thread's time to live, or null."""
    if row.ttl_minutes is None:
        return None
    expires = iso(row.expires_at) if row.expires_at is not None else None
    return {"strategy": row.ttl_strategy, "ttl_minutes": row.ttl_minutes, "expires_at": expires}


def thread_json(row: ThreadRow) -> dict[str, Any]:
    """``Thread``."""
    return {
        "thread_id": row.thread_id,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "state_updated_at": iso(row.state_updated_at),
        "metadata": row.metadata_,
        "status": row.status,
        "config": row.config,
        "values": row.values,
        "interrupts": row.interrupts or {},
        "error": row.error,
    }


EMPTY_STATE: dict[str, Any] = {
    "values": {},
    "next": [],
    "tasks": [],
    "metadata": {},
    "created_at": None,
    "checkpoint": None,
    "parent_checkpoint": None,
    "interrupts": [],
    "checkpoint_id": None,
    "parent_checkpoint_id": None,
}

"""Rows → the LangGraph Server API's JSON shapes."""

from __future__ import annotations

from typing import Any

from litestar import Response

from headwater.common.db.models import AssistantRow, RunRow, ThreadRow
from headwater.common.db.repository import aware


def page(items: list[dict[str, Any]], offset: int, total: int) -> Response[list[dict[str, Any]]]:
    """One page of a search, with langgraph-api's pagination headers."""
    headers = {"X-Pagination-Total": str(total)}
    if offset + len(items) < total:
        headers["X-Pagination-Next"] = str(offset + len(items))
    return Response(items, headers=headers)


def iso(value: Any) -> str:
    """``2026-11-22T08:21:11.348618+00:00``."""
    return aware(value).isoformat()


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

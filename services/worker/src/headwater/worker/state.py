"""Thread state as the LangGraph Server API shows it, built from a StateSnapshot."""

from __future__ import annotations

from typing import Any

from langgraph.types import Interrupt, StateSnapshot


def interrupt_json(item: Interrupt) -> dict[str, Any]:
    """``{"id", "value"}`` plus ``response_schema`` only when set."""
    out: dict[str, Any] = {"id": item.id, "value": item.value}
    schema = getattr(item, "response_schema", None)
    if schema is not None:
        out["response_schema"] = schema
    return out


def checkpoint_ref(config: Any) -> dict[str, Any] | None:
    """``{"checkpoint_id", "thread_id", "checkpoint_ns"}`` of a checkpoint config."""
    if not config:
        return None
    conf = config.get("configurable", {})
    if "checkpoint_id" not in conf:
        return None
    return {
        "checkpoint_id": conf["checkpoint_id"],
        "thread_id": conf.get("thread_id"),
        "checkpoint_ns": conf.get("checkpoint_ns", ""),
    }


def thread_state(snapshot: StateSnapshot) -> dict[str, Any]:
    """The ``ThreadState`` wire shape."""
    tasks = []
    for task in snapshot.tasks:
        nested = task.state
        tasks.append(
            {
                "id": task.id,
                "name": task.name,
                "path": list(task.path),
                "error": {"error": type(task.error).__name__, "message": str(task.error)}
                if task.error
                else None,
                "interrupts": [interrupt_json(i) for i in task.interrupts],
                "checkpoint": nested["configurable"]
                if isinstance(nested, dict) and nested
                else None,
                "state": thread_state(nested) if isinstance(nested, StateSnapshot) else None,
                "result": task.result,
            }
        )
    checkpoint = checkpoint_ref(snapshot.config)
    parent = checkpoint_ref(snapshot.parent_config)
    return {
        "values": snapshot.values,
        "next": list(snapshot.next),
        "tasks": tasks,
        "metadata": snapshot.metadata,
        "created_at": snapshot.created_at,
        "checkpoint": checkpoint,
        "parent_checkpoint": parent,
        "interrupts": [interrupt_json(i) for i in snapshot.interrupts],
        "checkpoint_id": checkpoint["checkpoint_id"] if checkpoint else None,
        "parent_checkpoint_id": parent["checkpoint_id"] if parent else None,
    }


def thread_interrupts(snapshot: StateSnapshot) -> dict[str, list[dict[str, Any]]]:
    """The thread row's ``interrupts``: task id → its pending interrupts."""
    return {t.id: [interrupt_json(i) for i in t.interrupts] for t in snapshot.tasks if t.interrupts}

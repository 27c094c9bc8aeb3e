"""Request bodies of the LangGraph Server API (unknown keys are accepted and ignored)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

StreamMode = str
SortOrder = Literal["asc", "desc"]
Limit = Annotated[int, msgspec.Meta(ge=0, le=1000)]
Offset = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]


class RunCreate(msgspec.Struct, kw_only=True):
    """Body of every run-creating endpoint (stateful and stateless)."""

    assistant_id: str
    input: Any = None
    command: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None
    checkpoint_id: str | None = None
    stream_mode: StreamMode | list[StreamMode] = msgspec.field(default_factory=lambda: ["values"])
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    multitask_strategy: Literal["reject", "interrupt", "rollback", "enqueue"] = "enqueue"
    if_not_exists: Literal["reject", "create"] = "reject"
    on_disconnect: Literal["cancel", "continue"] = "continue"
    on_completion: Literal["delete", "keep"] = "delete"
    after_seconds: float | None = None
    webhook: str | None = None
    durability: Literal["sync", "async", "exit"] | None = None


class ThreadCreate(msgspec.Struct, kw_only=True):
    """``POST /threads``."""

    thread_id: str | None = None
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"


class ThreadPatch(msgspec.Struct, kw_only=True):
    """``PATCH /threads/{thread_id}``."""

    metadata: dict[str, Any] | None = None


class ThreadSearch(msgspec.Struct, kw_only=True):
    """``POST /threads/search`` and ``/threads/count``."""

    ids: list[str] | None = None
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: Limit = 10
    offset: Offset = 0
    sort_by: Literal["thread_id", "status", "created_at", "updated_at", "state_updated_at"] = (
        "created_at"
    )
    sort_order: SortOrder = "desc"


class AssistantSearch(msgspec.Struct, kw_only=True):
    """``POST /assistants/search`` and ``/assistants/count``."""

    graph_id: str | None = None
    metadata: dict[str, Any] | None = None
    name: str | None = None
    limit: Limit = 10
    offset: Offset = 0
    sort_by: Literal["assistant_id", "created_at", "updated_at", "name", "graph_id"] = "created_at"
    sort_order: SortOrder = "desc"


class HistorySearch(msgspec.Struct, kw_only=True):
    """``POST /threads/{thread_id}/history``."""

    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 10
    before: str | dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None


class StateUpdate(msgspec.Struct, kw_only=True):
    """``POST /threads/{thread_id}/state``."""

    values: Any = None
    as_node: str | None = None
    checkpoint: dict[str, Any] | None = None
    checkpoint_id: str | None = None


class CheckpointQuery(msgspec.Struct, kw_only=True):
    """``POST /threads/{thread_id}/state/checkpoint``."""

    checkpoint: dict[str, Any]
    subgraphs: bool = False


class AssistantCreate(msgspec.Struct, kw_only=True):
    """``POST /assistants``."""

    graph_id: str
    assistant_id: str | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"
    name: str | None = None
    description: str | None = None


class AssistantPatch(msgspec.Struct, kw_only=True):
    """``PATCH /assistants/{assistant_id}``: a new version."""

    graph_id: str | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    name: str | None = None
    description: str | None = None


class VersionsSearch(msgspec.Struct, kw_only=True):
    """``POST /assistants/{assistant_id}/versions``."""

    metadata: dict[str, Any] | None = None
    limit: Limit = 10
    offset: Offset = 0


class SetLatest(msgspec.Struct, kw_only=True):
    """``POST /assistants/{assistant_id}/latest``."""

    version: Annotated[int, msgspec.Meta(ge=1)]


class CancelMany(msgspec.Struct, kw_only=True):
    """``POST /runs/cancel``: ``thread_id`` + ``run_ids``, or ``status``."""

    thread_id: str | None = None
    run_ids: list[str] | None = None
    status: Literal["pending", "running", "all"] | None = None

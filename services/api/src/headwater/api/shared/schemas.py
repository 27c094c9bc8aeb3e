"""Request bodies of the LangGraph Server API (unknown keys are accepted and ignored)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec

StreamMode = str
SortOrder = Literal["asc", "desc"]
Limit = Annotated[int, msgspec.Meta(ge=0, le=1000)]
Offset = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]


CONFIG_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "configurable": (dict,),
    "tags": (list,),
    "recursion_limit": (int,),
    "metadata": (dict,),
    "run_name": (str,),
    "max_concurrency": (int,),
}
"""The keys of a LangGraph ``RunnableConfig`` a run passes on, and the JSON types they need."""


def check_config(config: object) -> None:
    """``ValueError`` (a 422 once msgspec reports it) for a config key of the wrong type,
    e.g. ``configurable`` given as a string, which would fail only when the run is built."""
    if not isinstance(config, dict):
        return
    for key, types in CONFIG_FIELD_TYPES.items():
        value = config.get(key)
        if value is None:
            continue
        if not isinstance(value, types) or isinstance(value, bool):
            expected = " or ".join(t.__name__ for t in types)
            raise ValueError(f"`config.{key}` must be {expected}, not {type(value).__name__}")
    if not all(isinstance(tag, str) for tag in config.get("tags") or ()):
        raise ValueError("`config.tags` must be a list of strings")


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

    def __post_init__(self) -> None:
        check_config(self.config)


class ThreadTTL(msgspec.Struct, kw_only=True):
    """A thread's time to live: ``ttl`` minutes after its last change or run, ``strategy``."""

    ttl: Annotated[float, msgspec.Meta(gt=0, le=5_256_000)]  # up to ten years
    strategy: Literal["delete", "keep_latest"] = "delete"


class ThreadCreate(msgspec.Struct, kw_only=True):
    """``POST /threads``."""

    thread_id: str | None = None
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"
    ttl: ThreadTTL | None = None


class ThreadPatch(msgspec.Struct, kw_only=True):
    """``PATCH /threads/{thread_id}``."""

    metadata: dict[str, Any] | None = None
    ttl: ThreadTTL | None = None


ThreadField = Literal[
    "thread_id",
    "created_at",
    "updated_at",
    "state_updated_at",
    "metadata",
    "status",
    "config",
    "values",
    "interrupts",
    "error",
]


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
    select: list[ThreadField] | None = None
    extract: dict[str, Annotated[str, msgspec.Meta(max_length=512)]] | None = None


AssistantField = Literal[
    "assistant_id",
    "graph_id",
    "config",
    "context",
    "metadata",
    "name",
    "created_at",
    "updated_at",
    "version",
    "description",
]


class AssistantSearch(msgspec.Struct, kw_only=True):
    """``POST /assistants/search`` and ``/assistants/count``."""

    graph_id: str | None = None
    metadata: dict[str, Any] | None = None
    name: str | None = None
    limit: Limit = 10
    offset: Offset = 0
    sort_by: Literal["assistant_id", "created_at", "updated_at", "name", "graph_id"] = "created_at"
    sort_order: SortOrder = "desc"
    select: list[AssistantField] | None = None


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

    def __post_init__(self) -> None:
        check_config(self.config)


class AssistantPatch(msgspec.Struct, kw_only=True):
    """``PATCH /assistants/{assistant_id}``: a new version."""

    graph_id: str | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    name: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        check_config(self.config)


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


MultitaskStrategy = Literal["reject", "interrupt", "rollback", "enqueue"]
CronSortBy = Literal[
    "cron_id", "assistant_id", "thread_id", "created_at", "updated_at", "next_run_date", "end_time"
]
CronField = Literal[
    "cron_id",
    "assistant_id",
    "thread_id",
    "end_time",
    "schedule",
    "timezone",
    "created_at",
    "updated_at",
    "user_id",
    "payload",
    "next_run_date",
    "metadata",
    "now",
    "on_run_completed",
    "enabled",
]


class CronCreate(msgspec.Struct, kw_only=True):
    """``POST /runs/crons`` and ``POST /threads/{thread_id}/runs/crons``.

    ``on_run_completed`` is for stateless crons (a new thread per fire), ``multitask_strategy``
    for thread crons; the other run fields are those of :class:`RunCreate`.
    """

    schedule: str
    assistant_id: str
    input: Any = None
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    checkpoint_during: bool | None = None
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    webhook: str | None = None
    multitask_strategy: MultitaskStrategy | None = None
    on_run_completed: Literal["delete", "keep"] | None = None
    end_time: dt.datetime | None = None
    enabled: bool = True
    timezone: str | None = None
    stream_mode: StreamMode | list[StreamMode] | None = None
    stream_subgraphs: bool | None = None
    stream_resumable: bool | None = None
    durability: Literal["sync", "async", "exit"] | None = None

    def __post_init__(self) -> None:
        check_config(self.config)


class CronPatch(msgspec.Struct, kw_only=True):
    """``PATCH /runs/crons/{cron_id}``: only the fields sent change.

    ``end_time: null`` clears the end time, ``timezone: null`` reads the schedule in UTC again.
    """

    schedule: str | msgspec.UnsetType = msgspec.UNSET
    end_time: dt.datetime | msgspec.UnsetType | None = msgspec.UNSET
    input: Any | msgspec.UnsetType = msgspec.UNSET
    metadata: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    config: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    context: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    webhook: str | msgspec.UnsetType = msgspec.UNSET
    interrupt_before: Literal["*"] | list[str] | msgspec.UnsetType = msgspec.UNSET
    interrupt_after: Literal["*"] | list[str] | msgspec.UnsetType = msgspec.UNSET
    on_run_completed: Literal["delete", "keep"] | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET
    timezone: str | msgspec.UnsetType | None = msgspec.UNSET
    stream_mode: StreamMode | list[StreamMode] | msgspec.UnsetType = msgspec.UNSET
    stream_subgraphs: bool | msgspec.UnsetType = msgspec.UNSET
    stream_resumable: bool | msgspec.UnsetType = msgspec.UNSET
    durability: Literal["sync", "async", "exit"] | msgspec.UnsetType = msgspec.UNSET

    def __post_init__(self) -> None:
        check_config(self.config)


class CronSearch(msgspec.Struct, kw_only=True):
    """``POST /runs/crons/search`` and ``/runs/crons/count``."""

    assistant_id: str | None = None
    thread_id: str | None = None
    enabled: bool | None = None
    metadata: dict[str, Any] | None = None
    limit: Limit = 10
    offset: Offset = 0
    sort_by: CronSortBy = "created_at"
    sort_order: SortOrder = "desc"
    select: list[CronField] | None = None

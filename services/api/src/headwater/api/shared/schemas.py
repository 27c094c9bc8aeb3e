"""Request bodies of the LangGraph Server API (unknown keys are accepted and ignored)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from headwater.common.statuses import ActiveRunStatus

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


class CancelMany(msgspec.Struct, kw_only=True):
    """``POST /runs/cancel``: ``thread_id`` + ``run_ids``, or ``status``."""

    thread_id: str | None = None
    run_ids: list[str] | None = None
    status: ActiveRunStatus | Literal["all"] | None = None


MultitaskStrategy = Literal["reject", "interrupt", "rollback", "enqueue"]

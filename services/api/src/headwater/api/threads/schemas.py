"""Request bodies of ``/threads`` (unknown keys are accepted and ignored)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from headwater.api.shared.schemas import Limit, Offset, SortOrder
from headwater.common.statuses import ThreadStatus


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
    status: ThreadStatus | None = None
    limit: Limit = 10
    offset: Offset = 0
    sort_by: Literal["thread_id", "status", "created_at", "updated_at", "state_updated_at"] = (
        "created_at"
    )
    sort_order: SortOrder = "desc"
    select: list[ThreadField] | None = None
    extract: dict[str, Annotated[str, msgspec.Meta(max_length=512)]] | None = None


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

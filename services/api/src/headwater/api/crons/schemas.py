"""Request bodies of ``/runs/crons`` (unknown keys are accepted and ignored)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import msgspec

from headwater.api.shared.schemas import (
    Limit,
    MultitaskStrategy,
    Offset,
    SortOrder,
    StreamMode,
    check_config,
)

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

"""Tables of assistants, threads, runs and crons (each row with metadata and an owner), and
the live registry of workers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Integer, String, false
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JsonType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> dt.datetime:
    """Timezone-aware now."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of Headwater's tables."""


class AssistantRow(Base):
    """An assistant: a graph plus configuration."""

    __tablename__ = "assistants"

    assistant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    graph_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String, nullable=True)
    config: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    context: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JsonType, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    owner: Mapped[str] = mapped_column(String(255), default="", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AssistantVersionRow(Base):
    """Every version of an assistant; the assistants row holds the current one."""

    __tablename__ = "assistant_versions"

    assistant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    graph_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String, nullable=True)
    config: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    context: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JsonType, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ThreadRow(Base):
    """A conversation; its checkpoints live in the LangGraph checkpointer."""

    __tablename__ = "threads"

    thread_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="idle", index=True)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JsonType, default=dict)
    config: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    values: Mapped[Any] = mapped_column(JsonType, nullable=True)
    interrupts: Mapped[Any] = mapped_column(JsonType, nullable=True)
    error: Mapped[Any] = mapped_column(JsonType, nullable=True)
    owner: Mapped[str] = mapped_column(String(255), default="", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    state_updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    events_after: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """Events of this thread id up to this sequence belong to an earlier, deleted thread."""
    settled_status: Mapped[str] = mapped_column(String(16), default="idle", server_default="idle")
    """The status the thread rests in when no run is active (``status`` says ``busy`` then)."""
    ttl_minutes: Mapped[float | None] = mapped_column(Float, nullable=True)
    ttl_strategy: Mapped[str | None] = mapped_column(String(16), nullable=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, index=True
    )
    """When an idle thread with a TTL is deleted (or pruned): ``ttl_minutes`` after its last
    change or run."""
    deleting: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Being deleted: no new run, stream or cron takes it any more."""


class RunRow(Base):
    """One execution of an assistant on a thread."""

    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    thread_id: Mapped[str] = mapped_column(String(36), index=True)
    assistant_id: Mapped[str] = mapped_column(String(36), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JsonType, default=dict)
    kwargs: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    multitask_strategy: Mapped[str] = mapped_column(String(16), default="enqueue")
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str] = mapped_column(String(255), default="", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    """Indexed: the console's live feed asks for the runs changed since its last look."""
    worker_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    """The worker that holds (or last held) the run; set by the claim."""
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """When a worker first claimed the run (a later attempt keeps it)."""
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """Last sign of life of the holding worker for this run (batched per worker); a run
    whose heartbeat is recent is not taken over by another worker."""
    first_token_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    """When the run's first LLM token arrived (None: no LLM token, or not yet known)."""
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """When the run reached its final status."""


class WorkerRow(Base):
    """A live worker process: upserted on start and at every heartbeat, deleted on a
    graceful stop. A row whose ``heartbeat_at`` is old belongs to a worker that died."""

    __tablename__ = "workers"

    worker_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(64))
    graphs: Mapped[list[str]] = mapped_column(JsonType, default=list)
    concurrency_limit: Mapped[int] = mapped_column(Integer)
    concurrency_used: Mapped[int] = mapped_column(Integer, default=0)
    runs: Mapped[list[str]] = mapped_column(JsonType, default=list)
    """Ids of the runs in progress on the worker."""
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )


class CronRow(Base):
    """A schedule that creates runs: on one thread, or on a new thread at every fire.

    ``next_run_date`` is the next due time (UTC), None once ``end_time`` is past; the scheduler
    claims a fire by moving it forward with a conditional UPDATE. ``payload`` is the body of
    the runs it creates; ``auth_user`` is its creator as authenticated (identity, permissions and
    whatever else the authenticate handler returned), for the auth handlers at fire time.
    """

    __tablename__ = "crons"

    cron_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    assistant_id: Mapped[str] = mapped_column(String(36), index=True)
    thread_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    schedule: Mapped[str] = mapped_column(String(255))
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    end_time: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    next_run_date: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, index=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JsonType, default=dict)
    on_run_completed: Mapped[str | None] = mapped_column(String(16), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    auth_user: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    owner: Mapped[str] = mapped_column(String(255), default="", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

"""The console's operational views as msgspec Structs: they are the responses and the OpenAPI.

The shapes are the console contract (``docs/console-api.md``): times are ISO-8601 UTC
strings, durations milliseconds (``None`` when unknown).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from headwater.common.statuses import RunStatus


class Concurrency(msgspec.Struct, frozen=True):
    """Runs a worker may execute at once, and how many it executes now."""

    limit: int
    used: int


class Worker(msgspec.Struct, frozen=True):
    """One worker process as its last heartbeat described it."""

    worker_id: str
    host: str
    pid: int
    version: str
    graphs: list[str]
    concurrency: Concurrency
    runs: list[str]
    started_at: str
    heartbeat_at: str
    status: Literal["alive", "stale"]


class Queue(msgspec.Struct, frozen=True):
    """The run queue: JetStream's consumer of run requests, or the in-process queue."""

    mode: Literal["nats", "dev"]
    pending: int
    """Requests no worker has taken yet (the consumer's lag)."""
    ack_pending: int
    """Requests taken by a worker and not yet acknowledged (runs in progress)."""
    redelivered: int
    """Requests delivered more than once and not yet acknowledged."""
    consumers: int


class RunView(msgspec.Struct, frozen=True):
    """The LangGraph ``Run`` plus where and when it ran."""

    run_id: str
    thread_id: str
    assistant_id: str
    created_at: str
    updated_at: str
    status: str
    metadata: dict[str, Any]
    kwargs: dict[str, Any]
    multitask_strategy: str
    attempt: int
    worker_id: str | None
    started_at: str | None
    first_token_at: str | None
    ended_at: str | None
    queued_ms: float | None
    ttft_ms: float | None
    duration_ms: float | None
    error: str | None


class RunSearch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``POST /runs/search``: the caller's runs across threads, newest first."""

    status: RunStatus | list[RunStatus] | None = None
    assistant_id: str | None = None
    thread_id: str | None = None
    metadata: dict[str, Any] | None = None
    limit: int = 50
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= 1000:
            raise ValueError("limit must be between 1 and 1000")
        if not 0 <= self.offset <= 2**31 - 1:
            raise ValueError("offset must be between 0 and 2147483647")

    @property
    def statuses(self) -> list[str] | None:
        """The statuses asked for, as a list (``None``: any)."""
        if self.status is None:
            return None
        return [self.status] if isinstance(self.status, str) else list(self.status)


class TimelineEvent(msgspec.Struct, frozen=True):
    """One stream part of the run, as stored in the event log."""

    id: str
    event: str
    t_ms: float
    node: str | None
    ns: list[str]
    bytes: int
    preview: str


class NodeSpan(msgspec.Struct, frozen=True):
    """One execution of a graph node (within its namespace)."""

    node: str
    ns: list[str]
    start_ms: float
    end_ms: float


class LlmCall(msgspec.Struct, frozen=True):
    """One chat-model call: when it started, its first token, its end, its tokens."""

    node: str | None
    model: str | None
    start_ms: float
    first_token_ms: float | None
    end_ms: float
    input_tokens: int | None
    output_tokens: int | None


class StateDiff(msgspec.Struct, frozen=True):
    """Channels added, removed and changed (with their new values) since the checkpoint before."""

    added: dict[str, Any]
    removed: list[str]
    changed: dict[str, Any]


class CheckpointView(msgspec.Struct, frozen=True):
    """A checkpoint the run wrote, and what it changed."""

    checkpoint_id: str
    parent_checkpoint_id: str | None
    step: int | None
    source: str | None
    next: list[str]
    values: dict[str, Any]
    diff: StateDiff
    created_at: str | None = None


class RunInspection(msgspec.Struct, frozen=True):
    """``GET /runs/{run_id}/inspect``: everything the run inspector shows of one run."""

    run: RunView
    events: list[TimelineEvent]
    nodes: list[NodeSpan]
    llm_calls: list[LlmCall]
    checkpoints: list[CheckpointView]
    input: Any
    config: dict[str, Any]
    metadata: dict[str, Any]
    trace_url: str | None
    events_truncated: bool = False
    """Whether the run has more stream parts than the inspector shows (the first 20,000)."""


class LiveSnapshot(msgspec.Struct, frozen=True):
    """The first event of ``GET /runs/live``."""

    runs: list[RunView]
    queue: Queue
    workers: list[Worker]

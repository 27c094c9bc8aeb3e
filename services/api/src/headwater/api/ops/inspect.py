"""``GET /runs/{run_id}/inspect``: one run's timeline, nodes, LLM calls, checkpoints and trace.

Everything comes from what Headwater already keeps: the run row, the event log (each part
with the time the bus stored it) and the thread's checkpoints (asked of a worker). Times
are milliseconds since the run started (``started_at``, else ``created_at``).
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.api.auth.authorization import AuthHandlers, require_visible
from headwater.api.ops import checkpoints, timeline
from headwater.api.ops.event_log import stored_events
from headwater.api.ops.run_view import run_view
from headwater.api.ops.schemas import NodeSpan, RunInspection
from headwater.api.shared.errors import NotFound, Unavailable
from headwater.api.shared.ids import require_uuid
from headwater.common.bus import Bus
from headwater.common.db.models import RunRow
from headwater.common.db.repository import aware
from headwater.common.settings import Settings

log = logging.getLogger(__name__)


async def owned_run(
    sessions: async_sessionmaker[AsyncSession], auth: AuthHandlers, run_id: str, owner: str
) -> RunRow:
    """The caller's run, allowed by the auth handlers; 404 for anyone else's."""
    require_uuid(run_id, "run")
    async with sessions() as session:
        run = await session.get(RunRow, run_id)
    detail = f"Run {run_id} not found"
    if run is None or run.owner != owner:
        raise NotFound(detail)
    value = {"thread_id": run.thread_id, "run_id": run_id, "metadata": run.metadata_}
    await require_visible(auth, "threads", "read", value, run.metadata_, detail)
    return run


def trace_url(template: str, run: RunRow) -> str | None:
    """``HEADWATER_TRACES_URL`` with ``{trace_id}`` (the trace of the request that created
    the run, recorded when tracing is on) and ``{run_id}`` filled in; None without a
    template, or without the trace id it needs."""
    if not template:
        return None
    recorded = (run.kwargs or {}).get("trace_id")
    trace_id = recorded if isinstance(recorded, str) and len(recorded) == 32 else None
    if "{trace_id}" in template and trace_id is None:
        return None
    return template.replace("{trace_id}", trace_id or "").replace("{run_id}", run.run_id)


def _origin(run: RunRow) -> float:
    return aware(run.started_at or run.created_at).timestamp()


async def inspect_run(
    bus: Bus, sessions: async_sessionmaker[AsyncSession], settings: Settings, run: RunRow
) -> RunInspection:
    """Everything the inspector shows of ``run``."""
    origin = _origin(run)
    events, truncated = await stored_events(bus, run.thread_id, run.run_id)
    parts = timeline.decode(events, origin)
    states: list[dict[str, Any]] = []
    before: dict[str, Any] = {}
    if run.status != "pending" or run.attempt:  # a run never started wrote no checkpoint
        try:
            states, before = await checkpoints.run_states(
                bus, sessions, settings.request_timeout_s, run
            )
        except Unavailable:  # no worker answers: show what the API has
            log.warning("run %s: no worker answered for its checkpoints", run.run_id)
    views = checkpoints.checkpoint_views(states, before)

    nodes: list[NodeSpan] = timeline.task_spans(parts)
    if not nodes:
        nodes = checkpoints.checkpoint_spans(states, origin)
    if not nodes:
        first = parts[0].t_ms if parts else 0.0
        nodes = timeline.update_spans(parts, first)

    final_messages: dict[str, dict[str, Any]] = {}
    for part in parts:
        if part.mode in ("values", "updates"):
            timeline.ai_messages(part.data, final_messages)
    for view in views:
        timeline.ai_messages(view.values, final_messages)
    usage = {
        message_id: message["usage_metadata"]
        for message_id, message in final_messages.items()
        if isinstance(message.get("usage_metadata"), dict)
    }
    calls, seen = timeline.streamed_calls(parts, nodes, usage)
    seen |= _messages_before(before)
    calls += checkpoints.unstreamed_calls(views, states, origin, seen)
    calls.sort(key=lambda call: call.start_ms)

    kwargs = run.kwargs or {}
    config = kwargs.get("config") if isinstance(kwargs.get("config"), dict) else {}
    shown = run_view(run)
    if run.status in ("error", "timeout"):
        shown = msgspec.structs.replace(shown, error=_error_part(parts))
    return RunInspection(
        run=shown,
        events=timeline.timeline(parts),
        nodes=nodes,
        llm_calls=calls,
        checkpoints=views,
        input=kwargs.get("input"),
        config=_public_config(config or {}),
        metadata=run.metadata_ or {},
        trace_url=trace_url(settings.traces_url, run),
        events_truncated=truncated,
    )


def _error_part(parts: list[timeline.Part]) -> str | None:
    """The message of the run's ``error`` part (what its stream told the client)."""
    for part in reversed(parts):
        if part.mode == "error" and isinstance(part.data, dict):
            kind, message = part.data.get("error"), part.data.get("message")
            return f"{kind}: {message}" if kind else str(message)
    return None


def _messages_before(values: dict[str, Any]) -> set[str]:
    found: dict[str, dict[str, Any]] = {}
    timeline.ai_messages(values, found)
    return set(found)


def _public_config(config: dict[str, Any]) -> dict[str, Any]:
    """The run's config without the server's own ``__…__`` keys."""
    configurable = config.get("configurable")
    if not isinstance(configurable, dict):
        return config
    kept = {k: v for k, v in configurable.items() if not k.startswith("__")}
    return {**config, "configurable": kept}

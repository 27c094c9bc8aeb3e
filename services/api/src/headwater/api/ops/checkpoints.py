"""The checkpoints one run wrote, from a worker (the API holds no graph), and what each changed.

A worker answers the thread's history filtered on the run's id (LangGraph records the run id
in each checkpoint's metadata); the first checkpoint is compared with its parent, the last
one of the run before. Consecutive checkpoints also bound the nodes that ran between them,
which is how the inspector shows nodes of runs that streamed no ``tasks`` or ``updates``.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.api.ops.schemas import CheckpointView, LlmCall, NodeSpan, StateDiff
from headwater.api.ops.timeline import ai_messages
from headwater.api.shared.errors import NotFound
from headwater.api.threads.access import ask_worker
from headwater.common.bus import Bus
from headwater.common.db.models import RunRow, ThreadRow
from headwater.common.schemas import GraphRequest

MAX_CHECKPOINTS = 200


def diff(before: dict[str, Any], after: dict[str, Any]) -> StateDiff:
    """Channels added, removed, and changed (with the new value) from ``before`` to ``after``."""
    return StateDiff(
        added={k: v for k, v in after.items() if k not in before},
        removed=[k for k in before if k not in after],
        changed={k: v for k, v in after.items() if k in before and before[k] != v},
    )


def _values(state: dict[str, Any]) -> dict[str, Any]:
    values = state.get("values")
    return values if isinstance(values, dict) else {"__root__": values} if values else {}


async def run_states(
    bus: Bus, sessions: async_sessionmaker[AsyncSession], timeout_s: float, run: RunRow
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The run's checkpoints as ``ThreadState``s, oldest first, and the values before them.

    Nothing when the thread is gone (a stateless run's thread goes with its run) or never
    ran a graph.
    """
    async with sessions() as session:
        thread = await session.get(ThreadRow, run.thread_id)
    graph_id = (thread.metadata_ or {}).get("graph_id") if thread is not None else None
    if thread is None or not graph_id:
        return [], {}
    graph, thread_id, owner = str(graph_id), run.thread_id, run.owner
    history = GraphRequest(
        op="history",
        graph_id=graph,
        thread_id=thread_id,
        owner=owner,
        limit=MAX_CHECKPOINTS,
        metadata={"run_id": run.run_id},
    )
    try:
        raw = await ask_worker(bus, history, timeout_s)
    except NotFound:
        return [], {}
    states = [s for s in orjson.loads(raw) if isinstance(s, dict)]
    states.reverse()
    before: dict[str, Any] = {}
    parent = states[0].get("parent_checkpoint_id") if states else None
    if isinstance(parent, str):
        try:
            previous = orjson.loads(
                await ask_worker(
                    bus,
                    GraphRequest(
                        op="state",
                        graph_id=graph,
                        thread_id=thread_id,
                        owner=owner,
                        checkpoint_id=parent,
                    ),
                    timeout_s,
                )
            )
            before = _values(previous) if isinstance(previous, dict) else {}
        except NotFound:
            before = {}
    return states, before


def checkpoint_views(states: list[dict[str, Any]], before: dict[str, Any]) -> list[CheckpointView]:
    """Each checkpoint with its diff against the one before it."""
    views = []
    previous = before
    for state in states:
        values = _values(state)
        metadata = state.get("metadata")
        if not isinstance(metadata, dict):
            metadata = {}
        step = metadata.get("step")
        source = metadata.get("source")
        views.append(
            CheckpointView(
                checkpoint_id=str(state.get("checkpoint_id") or ""),
                parent_checkpoint_id=state.get("parent_checkpoint_id"),
                step=step if isinstance(step, int) else None,
                source=source if isinstance(source, str) else None,
                next=[str(n) for n in state.get("next") or []],
                values=values,
                diff=diff(previous, values),
                created_at=state.get("created_at"),
            )
        )
        previous = values
    return views


def _ms(stamp: Any, origin: float) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        when = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return round((when.timestamp() - origin) * 1000.0, 3)


def checkpoint_spans(states: list[dict[str, Any]], origin: float) -> list[NodeSpan]:
    """Nodes a checkpoint scheduled (``next``) ran until the next checkpoint was written."""
    spans: list[NodeSpan] = []
    for current, following in itertools.pairwise(states):
        start, end = (
            _ms(current.get("created_at"), origin),
            _ms(following.get("created_at"), origin),
        )
        if start is None or end is None:
            continue
        spans.extend(
            NodeSpan(str(node), [], start, end)
            for node in current.get("next") or []
            if not str(node).startswith("__")  # __start__: the input, not a node of the graph
        )
    return spans


def unstreamed_calls(
    views: list[CheckpointView],
    states: list[dict[str, Any]],
    origin: float,
    seen: set[str],
) -> list[LlmCall]:
    """LLM calls whose tokens were not streamed: AI messages a checkpoint added, timed by the
    checkpoints around the node that wrote them (no first-token time)."""
    calls = []
    for index, view in enumerate(views):
        added: dict[str, dict[str, Any]] = {}
        ai_messages(view.diff.added, added)
        ai_messages(view.diff.changed, added)
        fresh = {k: v for k, v in added.items() if k not in seen}
        if not fresh or index == 0:
            continue
        previous = states[index - 1]
        start = _ms(previous.get("created_at"), origin)
        end = _ms(states[index].get("created_at"), origin)
        if start is None or end is None:
            continue
        nodes = [str(n) for n in previous.get("next") or []]
        for message_id, message in fresh.items():
            seen.add(message_id)
            usage = message.get("usage_metadata") or {}
            meta = message.get("response_metadata") or {}
            model = meta.get("model_name") if isinstance(meta, dict) else None
            calls.append(
                LlmCall(
                    node=nodes[0] if len(nodes) == 1 else None,
                    model=model if isinstance(model, str) else None,
                    start_ms=start,
                    first_token_ms=None,
                    end_ms=end,
                    input_tokens=usage.get("input_tokens") if isinstance(usage, dict) else None,
                    output_tokens=usage.get("output_tokens") if isinstance(usage, dict) else None,
                )
            )
    return calls

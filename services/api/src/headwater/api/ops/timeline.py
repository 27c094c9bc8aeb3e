"""A run's stored stream parts → its timeline, node spans and LLM calls.

Every part carries the time the bus stored it (``RunEvent.time``). What each part says
depends on the stream modes the run was started with: ``tasks`` and ``debug`` parts give
exact node starts and ends, ``updates`` parts give node ends, ``messages`` (messages-tuple)
parts give each LLM call's tokens as they came. What the parts do not say, the run's
checkpoints fill in (``ops.checkpoints``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from headwater.api.ops.schemas import LlmCall, NodeSpan, TimelineEvent
from headwater.common.bus import RunEvent
from headwater.common.subjects import END_EVENT

PREVIEW_CHARS = 200


@dataclass(slots=True)
class Part:
    """One stored part, decoded once."""

    event: RunEvent
    mode: str
    ns: list[str]
    t_ms: float
    data: Any


def decode(events: list[RunEvent], origin: float) -> list[Part]:
    """The parts (the internal end event left out), ``t_ms`` counted from ``origin``."""
    parts: list[Part] = []
    for item in events:
        if item.event == END_EVENT:
            continue
        mode, *ns = item.event.split("|")
        try:
            data = orjson.loads(item.data)
        except orjson.JSONDecodeError:
            data = None
        t_ms = round((item.time - origin) * 1000.0, 3) if item.time else 0.0
        parts.append(Part(item, mode, ns, t_ms, data))
    return parts


def _get(value: Any, *path: str | int) -> Any:
    for key in path:
        if isinstance(key, int):
            if not isinstance(value, list) or len(value) <= key:
                return None
        elif not isinstance(value, dict):
            return None
        value = value[key] if isinstance(key, int) else value.get(key)
    return value


def node_of(part: Part) -> str | None:
    """The graph node a part came from, when the part says."""
    data, mode = part.data, part.mode
    node: Any = None
    if mode == "messages":
        node = _get(data, 1, "langgraph_node")
    elif mode == "updates" and isinstance(data, dict) and len(data) == 1:
        node = next(iter(data))
    elif mode == "tasks":
        node = _get(data, "name")
    elif mode == "debug":
        node = _get(data, "payload", "name")
    elif mode == "events":
        node = _get(data, "metadata", "langgraph_node")
    return node if isinstance(node, str) else None


def timeline(parts: list[Part]) -> list[TimelineEvent]:
    """Each part with its id, time, node, namespace, size and the start of its data."""
    out = []
    for part in parts:
        raw = part.event.data
        preview = bytes(raw[: PREVIEW_CHARS * 4]).decode("utf-8", "replace")[:PREVIEW_CHARS]
        out.append(
            TimelineEvent(
                id=str(part.event.seq),
                event=part.event.event,
                t_ms=part.t_ms,
                node=node_of(part),
                ns=part.ns,
                bytes=len(raw),
                preview=preview,
            )
        )
    return out


def task_spans(parts: list[Part]) -> list[NodeSpan]:
    """Node spans from ``tasks`` or ``debug`` parts: a task's start and its result."""
    starts: dict[str, tuple[str, list[str], float]] = {}
    spans: list[NodeSpan] = []
    for part in parts:
        if part.mode == "tasks":
            body, is_result = part.data, isinstance(part.data, dict) and "result" in part.data
        elif part.mode == "debug" and _get(part.data, "type") in ("task", "task_result"):
            body, is_result = _get(part.data, "payload"), part.data["type"] == "task_result"
        else:
            continue
        task_id, name = _get(body, "id"), _get(body, "name")
        if not isinstance(task_id, str) or not isinstance(name, str):
            continue
        if not is_result:
            starts[task_id] = (name, part.ns, part.t_ms)
        elif task_id in starts:
            name, ns, start = starts.pop(task_id)
            spans.append(NodeSpan(name, ns, start, part.t_ms))
    return sorted(spans, key=lambda span: (span.start_ms, span.end_ms))


def update_spans(parts: list[Part], run_start_ms: float) -> list[NodeSpan]:
    """Node spans from ``updates`` parts alone: a node ends at its update and started after
    the previous update of its namespace (nodes of one step look sequential here)."""
    last_end: dict[tuple[str, ...], float] = {}
    spans: list[NodeSpan] = []
    for part in parts:
        node = node_of(part) if part.mode == "updates" else None
        if node is None or node.startswith("__"):
            continue
        key = tuple(part.ns)
        start = last_end.get(key, run_start_ms)
        spans.append(NodeSpan(node, part.ns, start, part.t_ms))
        last_end[key] = part.t_ms
    return spans


@dataclass(slots=True)
class _Call:
    node: str | None
    model: str | None
    first_ms: float
    first_token_ms: float | None = None
    end_ms: float = 0.0
    usage: dict[str, Any] = field(default_factory=dict)


def _has_token(chunk: dict[str, Any]) -> bool:
    return bool(chunk.get("content")) or any(
        isinstance(c, dict) and c.get("args") for c in chunk.get("tool_call_chunks") or []
    )


def streamed_calls(
    parts: list[Part], spans: list[NodeSpan], usage: dict[str, dict[str, Any]]
) -> tuple[list[LlmCall], set[str]]:
    """LLM calls seen token by token in ``messages`` parts, and their message ids.

    A call starts with its node (the latest span of that node begun before its first part;
    without spans, at the part before its first one); ``usage`` holds token counts of the
    final messages by id, for streams that carried none.
    """
    calls: dict[str, _Call] = {}
    previous_ms = 0.0
    for part in parts:
        chunk, meta = _get(part.data, 0), _get(part.data, 1)
        if part.mode == "messages" and isinstance(chunk, dict) and isinstance(chunk.get("id"), str):
            kind = str(chunk.get("type") or "")
            if kind == "AIMessageChunk" or (kind == "ai" and chunk.get("response_metadata")):
                call = calls.get(chunk["id"])
                if call is None:
                    model = _get(meta, "ls_model_name") or _get(
                        chunk, "response_metadata", "model_name"
                    )
                    node = _get(meta, "langgraph_node")
                    call = calls[chunk["id"]] = _Call(
                        node if isinstance(node, str) else None,
                        model if isinstance(model, str) else None,
                        previous_ms,
                    )
                if call.first_token_ms is None and (_has_token(chunk) or kind == "ai"):
                    call.first_token_ms = part.t_ms
                call.end_ms = part.t_ms
                if isinstance(chunk.get("usage_metadata"), dict):
                    call.usage = chunk["usage_metadata"]
        previous_ms = part.t_ms
    out = []
    for message_id, call in calls.items():
        start = call.first_ms
        for span in spans:
            reference = call.first_token_ms if call.first_token_ms is not None else call.end_ms
            if span.node == call.node and span.start_ms <= reference:
                start = span.start_ms
        counts = call.usage or usage.get(message_id, {})
        out.append(
            LlmCall(
                node=call.node,
                model=call.model,
                start_ms=start,
                first_token_ms=call.first_token_ms,
                end_ms=max(call.end_ms, start),
                input_tokens=_int(counts.get("input_tokens")),
                output_tokens=_int(counts.get("output_tokens")),
            )
        )
    return out, set(calls)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def ai_messages(value: Any, found: dict[str, dict[str, Any]], depth: int = 0) -> None:
    """Collect every AI message (by id) inside ``value``: state values, updates."""
    if depth > 6:
        return
    if isinstance(value, dict):
        if value.get("type") in ("ai", "AIMessage", "AIMessageChunk") and isinstance(
            value.get("id"), str
        ):
            found[value["id"]] = value
            return
        for item in value.values():
            ai_messages(item, found, depth + 1)
    elif isinstance(value, list):
        for item in value:
            ai_messages(item, found, depth + 1)

"""``GET /v1/debug/stream/{request_id}``: the internal events of a front's run, as SSE.

``request_id`` is a chat completion's ``id`` (``chatcmpl-…``), a simple run's ``run_<hex>``
or a run UUID. The stream replays the run's event log from its start and follows it to the
end, translated into a small vocabulary: ``run.started``, ``node.started`` /
``node.completed`` (LangGraph's ``tasks`` mode, which the OpenAI and simple-run fronts
request), ``llm.started`` / ``llm.completed`` (the ``messages`` mode: one LLM call per AI
message, with its usage), ``tool.call`` / ``tool.result`` (from the nodes' results),
``run.error`` and finally ``run.completed``. Another owner's id, or one that names no run,
is a 404.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream

from headwater.api.fronts.completion_ids import PREFIX, completion_run
from headwater.api.fronts.events import Ended, Part, run_parts, text_of
from headwater.api.fronts.keepalive import with_keepalives
from headwater.api.fronts.simple_runs import internal_run_id
from headwater.api.runs.service import RunService
from headwater.common.db.models import RunRow
from headwater.common.ids import is_uuid
from headwater.common.usage import USAGE_SOURCE

_encode = msgspec.json.Encoder()
DebugEvent = tuple[str, dict[str, Any]]


def _frame(event: str, data: dict[str, Any], seq: int) -> bytes:
    head = b"event: " + event.encode() + b"\ndata: " + _encode.encode(data) + b"\n"
    return head + (b"id: %d\n\n" % seq if seq else b"\n")


def _node_messages(result: Any) -> list[dict[str, Any]]:
    """Messages a node wrote (``{"messages": [...]}`` or ``{"$writes": [...]}`` of them)."""
    written = result.get("messages") if isinstance(result, dict) else None
    if isinstance(written, dict) and isinstance(written.get("$writes"), list):
        written = [m for w in written["$writes"] for m in (w if isinstance(w, list) else [w])]
    if isinstance(written, dict):
        written = [written]
    return [m for m in written if isinstance(m, dict)] if isinstance(written, list) else []


@dataclass(slots=True)
class DebugTranslator:
    """Stream parts of one run → debug events."""

    llm_calls: dict[str, dict[str, Any]] = field(default_factory=dict)

    def part(self, part: Part) -> list[DebugEvent]:
        base, *namespace = part.event.split("|")
        where = {"namespace": namespace} if namespace else {}
        if base == "metadata" and isinstance(part.data, dict):
            return [("run.started", {"attempt": part.data.get("attempt", 1)})]
        if base == "error":
            return [("run.error", part.data if isinstance(part.data, dict) else {})]
        if base == "tasks" and isinstance(part.data, dict):
            return self._task(part.data, where)
        if base == "messages" and isinstance(part.data, list) and len(part.data) == 2:
            return self._message(part.data[0], part.data[1], where)
        return []

    def _task(self, task: dict[str, Any], where: dict[str, Any]) -> list[DebugEvent]:
        head = {"node": task.get("name"), "task_id": task.get("id"), **where}
        if "result" not in task and "error" not in task:
            return [("node.started", {**head, "triggers": task.get("triggers")})]
        out: list[DebugEvent] = []
        for message in _node_messages(task.get("result")):
            out.extend(self._written(message, head))
        out.append(
            (
                "node.completed",
                {**head, "error": task.get("error"), "interrupts": task.get("interrupts") or []},
            )
        )
        return out

    def _message(self, chunk: Any, meta: Any, where: dict[str, Any]) -> list[DebugEvent]:
        if not isinstance(chunk, dict) or chunk.get("type") not in ("AIMessageChunk", "ai"):
            return []
        key = str(chunk.get("id"))
        if key in self.llm_calls:
            return []
        meta = meta if isinstance(meta, dict) else {}
        call = {
            "message_id": key,
            "node": meta.get("langgraph_node"),
            "model": meta.get("ls_model_name"),
            **where,
        }
        self.llm_calls[key] = call
        return [("llm.started", call)]

    def _written(self, message: dict[str, Any], head: dict[str, Any]) -> list[DebugEvent]:
        if message.get("type") == "tool":
            return [
                (
                    "tool.result",
                    {
                        "tool": message.get("name"),
                        "tool_call_id": message.get("tool_call_id"),
                        "status": message.get("status", "success"),
                        "output": text_of(message.get("content")),
                        "node": head["node"],
                    },
                )
            ]
        if message.get("type") != "ai":
            return []
        out: list[DebugEvent] = []
        key = str(message.get("id"))
        metadata = message.get("response_metadata") or {}
        if key in self.llm_calls or metadata:
            call = self.llm_calls.pop(key, None) or {"message_id": key, "node": head["node"]}
            usage = message.get("usage_metadata")
            out.append(
                (
                    "llm.completed",
                    {
                        **call,
                        "finish_reason": metadata.get("finish_reason"),
                        "usage": usage,
                        "usage_source": (metadata.get(USAGE_SOURCE) or "reported")
                        if usage
                        else None,
                        "tool_calls": len(message.get("tool_calls") or []),
                    },
                )
            )
        for call in message.get("tool_calls") or []:
            out.append(
                (
                    "tool.call",
                    {
                        "tool": call.get("name"),
                        "args": call.get("args"),
                        "tool_call_id": call.get("id"),
                        "node": head["node"],
                    },
                )
            )
        return out


async def debug_frames(parts: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    """SSE frames of the debug events of a run, until it ends."""
    translator = DebugTranslator()
    async for part in parts:
        if isinstance(part, Ended):
            yield _frame("run.completed", {"status": part.status}, 0)
            return
        if isinstance(part, Part):
            for event, data in translator.part(part):
                yield _frame(event, data, part.seq)


async def _run_of(runs: RunService, owner: str, request_id: str) -> tuple[str, str] | None:
    """``(thread_id, run_id)`` of the caller's run named ``request_id``, or None."""
    if request_id.startswith(PREFIX):
        found = completion_run(runs.settings.naming_secret, owner, request_id)
        if found is None:
            return None
        thread_id, run_id = found
        async with runs.sessions() as session:
            row = await session.get(RunRow, run_id)
        if row is not None:
            return (thread_id, run_id) if row.owner == owner else None
        # A completion's run and thread are deleted once answered; its events remain.
        first = await runs.bus.first_event_seq(thread_id, run_id)
        return found if first is not None else None
    named = internal_run_id(request_id) if request_id.startswith("run_") else request_id
    if named is None or not is_uuid(named):
        return None
    async with runs.sessions() as session:
        row = await session.get(RunRow, named)
    if row is None or row.owner != owner:
        return None
    return row.thread_id, row.run_id


class DebugStreamController(Controller):
    """``GET /v1/debug/stream/{request_id}``."""

    path = "/v1/debug"
    tags = ["OpenAI-compatible"]

    @get("/stream/{request_id:str}")
    async def stream(
        self,
        runs: NamedDependency[RunService],
        owner: NamedDependency[str],
        request_id: FromPath[str],
    ) -> Response[dict[str, Any]] | Stream:
        """The internal events of the run behind a completion id or a run id, as SSE."""
        found = await _run_of(runs, owner, request_id)
        if found is None:
            message = f"No run or completion `{request_id}` was found."
            body = {"error": {"message": message, "type": "not_found", "param": None, "code": 404}}
            return Response(body, status_code=404)
        thread_id, run_id = found
        subscription = await runs.bus.subscribe_events(thread_id, run_id)
        parts = run_parts(subscription, runs.status_check(run_id))
        return Stream(
            with_keepalives(debug_frames(parts), runs.settings.sse_keepalive_s),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

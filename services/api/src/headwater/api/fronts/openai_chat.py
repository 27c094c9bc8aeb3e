"""OpenAI-compatible chat completions over Headwater runs (``/v1/models``, ``/v1/chat/completions``).

Every graph (by name) and every assistant (by id) is a model. A request becomes a run on a
new, temporary thread; its ``messages`` stream parts become ``chat.completion.chunk``s exactly
as the OpenAI API and vLLM send them.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Stream

from headwater.api.fronts.completion_ids import completion_id
from headwater.api.fronts.events import (
    Ended,
    Part,
    ai_chunk,
    final_ai_message,
    run_parts,
    text_of,
)
from headwater.api.fronts.keepalive import with_keepalives
from headwater.api.fronts.openai_request import ChatCompletionRequest, OpenAIError, parse_request
from headwater.api.fronts.usage import RunUsage
from headwater.api.runs.run_shape import resolve_assistant
from headwater.api.runs.service import RunService
from headwater.api.shared.context import Sessions
from headwater.api.shared.errors import ApiError, NotFound
from headwater.api.shared.schemas import RunCreate
from headwater.common.db.models import AssistantRow

SAMPLING = ("temperature", "max_tokens", "stop", "top_p")
_encode = msgspec.json.Encoder()


def _run_body(body: ChatCompletionRequest) -> RunCreate:
    params = {k: getattr(body, k) for k in SAMPLING if getattr(body, k) is not None}
    if body.max_completion_tokens is not None:
        params["max_tokens"] = body.max_completion_tokens
    # LangChain wants every message dict to have ``content`` (null becomes "").
    messages = [{**msgspec.to_builtins(m), "content": m.content or ""} for m in body.messages]
    return RunCreate(
        assistant_id=body.model,
        input={"messages": messages},
        config={"configurable": {"model_params": params}} if params else None,
        stream_mode=["messages-tuple", "tasks"],  # tasks: node starts and ends, for /v1/debug
        on_completion="delete",
        on_disconnect="cancel",
    )


class _Chunks:
    """Builds ``chat.completion.chunk`` frames of one response."""

    def __init__(self, completion: str, model: str) -> None:
        self.head = {
            "id": completion,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }

    def delta(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return b"data: " + _encode.encode({**self.head, "choices": [choice]}) + b"\n\n"

    def usage(self, usage: RunUsage) -> bytes:
        return (
            b"data: "
            + _encode.encode({**self.head, "choices": [], "usage": usage.as_openai()})
            + b"\n\n"
        )


def _error_frame(message: str, kind: str = "server_error", code: int = 500) -> bytes:
    return (
        b"data: "
        + _encode.encode({"error": {"message": message, "type": kind, "param": None, "code": code}})
        + b"\n\n"
    )


class _ToolIndex:
    """OpenAI numbers tool calls per response; each LLM call restarts at 0, so offset them."""

    def __init__(self) -> None:
        self.base: dict[str, int] = {}
        self.next = 0

    def index(self, message_id: str, local: int) -> int:
        if message_id not in self.base:
            self.base[message_id] = self.next
        position = self.base[message_id] + local
        self.next = max(self.next, position + 1)
        return position


def tool_call_deltas(chunk: dict[str, Any], numbering: _ToolIndex) -> list[dict[str, Any]]:
    """OpenAI ``tool_calls`` delta entries for a LangChain chunk's ``tool_call_chunks``."""
    out = []
    for piece in chunk.get("tool_call_chunks") or []:
        entry: dict[str, Any] = {
            "index": numbering.index(str(chunk.get("id")), int(piece.get("index") or 0))
        }
        if piece.get("id"):
            entry["id"] = piece["id"]
            entry["type"] = "function"
        function = {
            k: v
            for k, v in (("name", piece.get("name")), ("arguments", piece.get("args")))
            if v is not None
        }
        entry["function"] = function
        out.append(entry)
    return out


async def _stream(
    parts: AsyncIterator[Any], completion: str, model: str, include_usage: bool
) -> AsyncIterator[bytes]:
    frames = _Chunks(completion, model)
    usage, numbering = RunUsage(), _ToolIndex()
    finish: str | None = None
    yield frames.delta({"role": "assistant", "content": ""})
    async for part in parts:
        if isinstance(part, Ended):
            if part.status == "error":
                error = (
                    (part.result or {}).get("__error__", {})
                    if isinstance(part.result, dict)
                    else {}
                )
                yield _error_frame(error.get("message") or "the agent failed")
            elif part.status == "interrupted":
                yield _error_frame("the run was cancelled", "cancelled", 499)
            else:
                yield frames.delta({}, finish or "stop")
                if include_usage:
                    usage.settle(part.result)
                    yield frames.usage(usage)
            yield b"data: [DONE]\n\n"
            return
        if not isinstance(part, Part):
            yield b": keep-alive\n\n"
            continue
        chunk = ai_chunk(part)
        if chunk is None:
            continue
        usage.chunk(chunk)
        reason = (chunk.get("response_metadata") or {}).get("finish_reason")
        if reason:
            finish = "stop" if reason == "tool_calls" else reason  # the agent ran the tools itself
        text = text_of(chunk.get("content"))
        if text:
            yield frames.delta({"content": text})
        calls = tool_call_deltas(chunk, numbering)
        if calls:
            yield frames.delta({"tool_calls": calls})


def completion_body(completion: str, model: str, result: Any, usage: RunUsage) -> dict[str, Any]:
    """A ``chat.completion`` from a run's final values."""
    final = final_ai_message(result) or {}
    usage.settle(result)
    message: dict[str, Any] = {"role": "assistant", "content": text_of(final.get("content"))}
    finish = (final.get("response_metadata") or {}).get("finish_reason") or "stop"
    if final.get("tool_calls"):
        message["tool_calls"] = [
            {
                "id": c.get("id"),
                "type": "function",
                "function": {
                    "name": c.get("name"),
                    "arguments": msgspec.json.encode(c.get("args") or {}).decode(),
                },
            }
            for c in final["tool_calls"]
        ]
        finish = "tool_calls"
    return {
        "id": completion,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": usage.as_openai(),
    }


class OpenAIController(Controller):
    """``/v1/models`` and ``/v1/chat/completions``."""

    path = "/v1"
    tags = ["OpenAI-compatible"]

    @get("/models")
    async def models(
        self,
        sessions: NamedDependency[Sessions],
        graph_ids: NamedDependency[list[str]],
        owner: NamedDependency[str],
    ) -> dict[str, Any]:
        """Every graph and every assistant, as models."""
        from sqlalchemy import select

        async with sessions() as session:
            rows = (
                await session.scalars(
                    select(AssistantRow).where(AssistantRow.owner.in_(["", owner]))
                )
            ).all()
        data = [
            {"id": g, "object": "model", "created": 0, "owned_by": "headwater"} for g in graph_ids
        ]
        data += [
            {
                "id": r.assistant_id,
                "object": "model",
                "created": int(r.created_at.timestamp()),
                "owned_by": "headwater",
                "name": r.name,
            }
            for r in rows
        ]
        return {"object": "list", "data": data}

    @post("/chat/completions", status_code=200)
    async def chat_completions(
        self,
        runs: NamedDependency[RunService],
        graph_ids: NamedDependency[list[str]],
        owner: NamedDependency[str],
        request: Request[Any, Any, Any],
    ) -> Response[Any] | Stream:
        """Chat with an agent as with a model."""
        try:
            body = parse_request(await request.body())
            async with runs.sessions() as session:
                await resolve_assistant(session, graph_ids, body.model)
        except OpenAIError as exc:
            return exc.response()
        except ApiError as exc:
            if isinstance(exc, NotFound) or exc.status_code == 422:
                return OpenAIError(
                    404,
                    f"The model `{body.model}` does not exist.",
                    "invalid_request_error",
                    "model",
                ).response()
            raise
        run, subscription = await runs.admission.start(
            _run_body(body), thread_id=None, owner=owner, headers=request.headers
        )
        completion = completion_id(runs.settings.naming_secret, owner, run.thread_id, run.run_id)
        parts = run_parts(subscription, runs.status_check(run.run_id))
        if body.stream:
            include_usage = body.stream_options is not None and body.stream_options.include_usage
            frames = _stream(parts, completion, body.model, include_usage)
            return Stream(
                with_keepalives(frames, runs.settings.sse_keepalive_s),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
            )
        usage = RunUsage()
        async for part in parts:
            if isinstance(part, Part) and (chunk := ai_chunk(part)) is not None:
                usage.chunk(chunk)
            elif isinstance(part, Ended):
                if part.status == "success":
                    return Response(completion_body(completion, body.model, part.result, usage))
                detail = (
                    ((part.result or {}).get("__error__") or {}).get("message")
                    if isinstance(part.result, dict)
                    else None
                )
                return OpenAIError(
                    502, detail or f"the run ended {part.status}", "upstream_error"
                ).response()
        return OpenAIError(502, "the run ended without a result", "upstream_error").response()

"""OpenAI-compatible chat completions over Headwater runs (``/v1/models``, ``/v1/chat/completions``).

Every graph (by name) and every assistant (by id) is a model. A request becomes a run on a
new, temporary thread; its ``messages`` stream parts become ``chat.completion.chunk``s exactly
as the OpenAI API and vLLM send them.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.response import Stream

from headwater.api.admission import RunAdmission, resolve_assistant
from headwater.api.context import ApiContext
from headwater.api.errors import ApiError, NotFound
from headwater.api.fronts.events import (
    Ended,
    Part,
    Usage,
    ai_chunk,
    final_ai_message,
    run_parts,
    text_of,
)
from headwater.api.runs import status_check
from headwater.api.schemas import RunCreate
from headwater.common.db.models import AssistantRow

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
SAMPLING = ("temperature", "max_tokens", "stop", "top_p")
_encode = msgspec.json.Encoder()


class OpenAIError(Exception):
    """An error answered in OpenAI's shape."""

    def __init__(self, status: int, message: str, kind: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.param = status, message, kind, param

    def response(self) -> Response[dict[str, Any]]:
        body = {
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.status,
            }
        }
        return Response(body, status_code=self.status)


def _bad(message: str, param: str | None = None) -> OpenAIError:
    return OpenAIError(400, message, "invalid_request_error", param)


def parse_request(raw: bytes) -> dict[str, Any]:
    """Validate a chat completion request; raise a 400 ``OpenAIError`` when it is malformed."""
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise _bad(f"Request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise _bad("Request body must be a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise _bad("`model` is required.", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("`messages` must be a non-empty array.", "messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise _bad(f"messages[{i}] needs a role in {sorted(ROLES)}.", f"messages[{i}].role")
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise _bad(
                f"messages[{i}].content must be a string or an array of parts.",
                f"messages[{i}].content",
            )
    if body.get("stream_options") is not None and not body.get("stream"):
        raise _bad("`stream_options` is only allowed when `stream` is true.", "stream_options")
    for name, kind in (
        ("temperature", (int, float)),
        ("top_p", (int, float)),
        ("max_tokens", int),
        ("max_completion_tokens", int),
    ):
        value = body.get(name)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise _bad(f"`{name}` must be a number.", name)
    stop = body.get("stop")
    if stop is not None and not (
        isinstance(stop, str) or (isinstance(stop, list) and all(isinstance(s, str) for s in stop))
    ):
        raise _bad("`stop` must be a string or an array of strings.", "stop")
    return body


def _run_body(body: dict[str, Any]) -> RunCreate:
    params = {k: body[k] for k in SAMPLING if body.get(k) is not None}
    if body.get("max_completion_tokens") is not None:
        params["max_tokens"] = body["max_completion_tokens"]
    messages = [
        {
            k: v
            for k, v in m.items()
            if k in ("role", "content", "name", "tool_calls", "tool_call_id")
        }
        for m in body["messages"]
    ]
    return RunCreate(
        assistant_id=body["model"],
        input={"messages": messages},
        config={"configurable": {"model_params": params}} if params else None,
        stream_mode=["messages-tuple"],
        on_completion="delete",
        on_disconnect="cancel",
    )


class _Chunks:
    """Builds ``chat.completion.chunk`` frames of one response."""

    def __init__(self, model: str) -> None:
        self.head = {
            "id": f"chatcmpl-{secrets.token_hex(16)}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }

    def delta(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return b"data: " + _encode.encode({**self.head, "choices": [choice]}) + b"\n\n"

    def usage(self, usage: Usage) -> bytes:
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
    parts: AsyncIterator[Any], model: str, include_usage: bool
) -> AsyncIterator[bytes]:
    frames = _Chunks(model)
    usage, numbering = Usage(), _ToolIndex()
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
                    yield frames.usage(usage)
            yield b"data: [DONE]\n\n"
            return
        if not isinstance(part, Part):
            yield b": keep-alive\n\n"
            continue
        chunk = ai_chunk(part)
        if chunk is None:
            continue
        usage.add(chunk)
        reason = (chunk.get("response_metadata") or {}).get("finish_reason")
        if reason:
            finish = "stop" if reason == "tool_calls" else reason  # the agent ran the tools itself
        text = text_of(chunk.get("content"))
        if text:
            yield frames.delta({"content": text})
        calls = tool_call_deltas(chunk, numbering)
        if calls:
            yield frames.delta({"tool_calls": calls})


def completion_body(model: str, result: Any) -> dict[str, Any]:
    """A ``chat.completion`` from a run's final values."""
    final = final_ai_message(result) or {}
    usage = Usage()
    for item in (result or {}).get("messages", []) if isinstance(result, dict) else []:
        if isinstance(item, dict) and item.get("type") == "ai":
            usage.add(item)
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
        "id": f"chatcmpl-{secrets.token_hex(16)}",
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
    async def models(self, ctx: ApiContext, owner: str) -> dict[str, Any]:
        """Every graph and every assistant, as models."""
        from sqlalchemy import select

        async with ctx.sessions() as session:
            rows = (
                await session.scalars(
                    select(AssistantRow).where(AssistantRow.owner.in_(["", owner]))
                )
            ).all()
        data = [
            {"id": g, "object": "model", "created": 0, "owned_by": "headwater"}
            for g in ctx.graph_ids
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
        self, ctx: ApiContext, owner: str, request: Request[Any, Any, Any]
    ) -> Response[Any] | Stream:
        """Chat with an agent as with a model."""
        try:
            body = parse_request(await request.body())
            async with ctx.sessions() as session:
                await resolve_assistant(session, ctx, body["model"])
        except OpenAIError as exc:
            return exc.response()
        except ApiError as exc:
            if isinstance(exc, NotFound) or exc.status_code == 422:
                return OpenAIError(
                    404,
                    f"The model `{body['model']}` does not exist.",
                    "invalid_request_error",
                    "model",
                ).response()
            raise
        run, subscription = await RunAdmission(ctx).start(
            _run_body(body), thread_id=None, owner=owner, headers=request.headers
        )
        parts = run_parts(subscription, status_check(ctx, run.run_id))
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return Stream(
                _stream(parts, body["model"], include_usage),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
            )
        async for part in parts:
            if isinstance(part, Ended):
                if part.status == "success":
                    return Response(completion_body(body["model"], part.result))
                detail = (
                    ((part.result or {}).get("__error__") or {}).get("message")
                    if isinstance(part.result, dict)
                    else None
                )
                return OpenAIError(
                    502, detail or f"the run ended {part.status}", "upstream_error"
                ).response()
        return OpenAIError(502, "the run ended without a result", "upstream_error").response()

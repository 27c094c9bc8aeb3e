"""The simulator's HTTP surface: ``/v1/models``, ``/v1/chat/completions``, ``/v1/embeddings``,
``/v1/audio/transcriptions``."""

from __future__ import annotations

import asyncio
import hashlib
import math
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.response import Stream

from headwater.simllm.audio import FORMATS, UndecodableAudio, transcribe
from headwater.simllm.chunks import DONE, ChunkWriter, error_body
from headwater.simllm.config import SimConfig
from headwater.simllm.script import Reply, message_text, plan_reply

EMBEDDING_DIMS = 64
MAX_AUDIO_BYTES = 25 * 1024 * 1024


def _bad(message: str) -> Response[dict[str, Any]]:
    return Response(error_body(message), status_code=400)


def _prompt_tokens(messages: list[dict[str, Any]]) -> int:
    return sum(len(message_text(m).split()) for m in messages) + 3 * len(messages)


async def _stream(
    writer: ChunkWriter, reply: Reply, ttft_ms: float, include_usage: bool, prompt_tokens: int
) -> AsyncIterator[bytes]:
    """The SSE frames of one streamed completion, as vLLM sends them."""
    delay = reply.token_delay_ms / 1000
    yield writer.delta({"role": "assistant", "content": ""})
    if ttft_ms > 0:
        await asyncio.sleep(ttft_ms / 1000)
    if reply.tool_name is not None:
        yield writer.delta(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": _tool_call_id(),
                        "type": "function",
                        "function": {"name": reply.tool_name, "arguments": ""},
                    }
                ]
            }
        )
        for piece in reply.argument_pieces:
            if delay > 0:
                await asyncio.sleep(delay)
            yield writer.delta({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
    elif delay > 0:
        for i, piece in enumerate(reply.pieces):
            if i > 0:
                await asyncio.sleep(delay)
            yield writer.content(piece)
    else:
        for piece in reply.pieces:
            yield writer.content(piece)
    yield writer.delta({}, reply.finish_reason)
    if include_usage and reply.report_usage:
        yield writer.usage(prompt_tokens, reply.completion_tokens)
    yield DONE


def _tool_call_id() -> str:
    return f"chatcmpl-tool-{secrets.token_hex(16)}"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _validate(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    messages = body.get("messages")
    if (
        not isinstance(messages, list)
        or not messages
        or not all(isinstance(m, dict) for m in messages)
    ):
        return "messages must be a non-empty list of objects"
    if body.get("stream_options") is not None and not body.get("stream"):
        return "Stream options can only be defined when `stream=True`."
    if body.get("stream_options") is not None and not isinstance(body["stream_options"], dict):
        return "stream_options must be an object"
    if body.get("tools") == []:
        return "tools must not be an empty list"
    for key in ("sim_ttft_ms", "sim_token_delay_ms"):
        if body.get(key) is not None and not _is_number(body[key]):
            return f"{key} must be a non-negative number"
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 0
        ):
            return f"{key} must be a non-negative integer"
    stop = body.get("stop")
    if stop is not None and not (
        isinstance(stop, str) or (isinstance(stop, list) and all(isinstance(x, str) for x in stop))
    ):
        return "stop must be a string or a list of strings"
    return None


def create_app(config: SimConfig) -> Litestar:  # noqa: C901 - to split (issue 14)
    """Build the simulator application."""
    created = int(time.time())

    @get("/v1/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {
                    "id": config.model,
                    "object": "model",
                    "created": created,
                    "owned_by": "headwater-simllm",
                    "root": config.model,
                    "parent": None,
                    "max_model_len": 32768,
                }
            ],
        }

    @get("/health")
    async def health() -> Response[bytes]:
        return Response(b"", status_code=200)

    @post("/v1/chat/completions", status_code=200)
    async def chat(request: Request[Any, Any, Any]) -> Response[Any] | Stream:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _bad("request body is not valid JSON")
        problem = _validate(body)
        if problem:
            return _bad(problem)
        messages: list[dict[str, Any]] = body["messages"]
        reply = plan_reply(config, messages, body)
        prompt_tokens = _prompt_tokens(messages)
        model = str(body.get("model") or config.model)
        ttft_ms = float(
            body["sim_ttft_ms"] if body.get("sim_ttft_ms") is not None else config.ttft_ms
        )
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return Stream(
                _stream(ChunkWriter(model), reply, ttft_ms, include_usage, prompt_tokens),
                media_type="text/event-stream",
            )
        deltas = len(reply.argument_pieces) if reply.tool_name is not None else len(reply.pieces)
        total_delay = ttft_ms + reply.token_delay_ms * max(0, deltas - 1)
        if total_delay > 0:
            await asyncio.sleep(total_delay / 1000)
        message: dict[str, Any] = {"role": "assistant", "content": "".join(reply.pieces)}
        if reply.tool_name is not None:
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": _tool_call_id(),
                        "type": "function",
                        "function": {"name": reply.tool_name, "arguments": reply.tool_arguments},
                    }
                ],
            }
        completion = reply.completion_tokens
        return Response(
            {
                "id": f"chatcmpl-{secrets.token_hex(16)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "logprobs": None,
                        "finish_reason": reply.finish_reason,
                        "stop_reason": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "total_tokens": prompt_tokens + completion,
                    "completion_tokens": completion,
                },
            }
        )

    @post("/v1/embeddings", status_code=200)
    async def embeddings(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _bad("request body is not valid JSON")
        inputs = body.get("input") if isinstance(body, dict) else None
        if isinstance(inputs, str):
            inputs = [inputs]
        if (
            not isinstance(inputs, list)
            or not inputs
            or not all(isinstance(i, str) for i in inputs)
        ):
            return _bad("input must be a string or a non-empty list of strings")
        data = [
            {"object": "embedding", "index": i, "embedding": embed(text)}
            for i, text in enumerate(inputs)
        ]
        tokens = sum(len(t.split()) for t in inputs)
        return Response(
            {
                "object": "list",
                "data": data,
                "model": body.get("model") or config.model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    @post(
        "/v1/audio/transcriptions", status_code=200, request_max_body_size=MAX_AUDIO_BYTES + 2**20
    )
    async def transcriptions(request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            return _bad("file must be an uploaded audio file")
        if not form.get("model"):
            return _bad("model is required")
        response_format = form.get("response_format") or "json"
        if response_format not in FORMATS:
            return _bad(f"response_format must be one of {list(FORMATS)}")
        data = await upload.read()
        if len(data) > MAX_AUDIO_BYTES:
            return Response(error_body("file is larger than 25 MB", 413), status_code=413)
        try:
            transcript = transcribe(data, form.get("language") or None)
        except UndecodableAudio as exc:
            return _bad(str(exc))
        body = transcript.body(response_format)
        if isinstance(body, str):
            return Response(body, media_type="text/plain")
        return Response(body)

    return Litestar(route_handlers=[models, health, chat, embeddings, transcriptions], debug=False)


def embed(text: str) -> list[float]:
    """A deterministic hashed bag-of-words vector, L2-normalised: shared words → similar."""
    vector = [0.0] * EMBEDDING_DIMS
    for word in text.lower().split():
        word = "".join(ch for ch in word if ch.isalnum())
        if not word:
            continue
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        bucket = int.from_bytes(digest[:4], "big") % EMBEDDING_DIMS
        vector[bucket] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]

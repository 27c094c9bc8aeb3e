"""The simulator's HTTP surface: ``/v1/models``, ``/v1/chat/completions``, ``/v1/embeddings``."""

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
from litestar.response import Stream

from headwater.simllm.chunks import DONE, ChunkWriter, error_body
from headwater.simllm.config import SimConfig
from headwater.simllm.script import Reply, message_text, plan_reply

EMBEDDING_DIMS = 64


def _bad(message: str) -> Response[dict[str, Any]]:
    return Response(error_body(message), status_code=400)


def _prompt_tokens(messages: list[dict[str, Any]]) -> int:
    return sum(len(message_text(m).split()) for m in messages) + 3 * len(messages)


async def _stream(
    config: SimConfig, reply: Reply, body: dict[str, Any], prompt_tokens: int
) -> AsyncIterator[bytes]:
    writer = ChunkWriter(str(body.get("model") or config.model))
    ttft = float(body.get("sim_ttft_ms", config.ttft_ms))
    delay = reply.token_delay_ms / 1000
    yield writer.delta({"role": "assistant", "content": ""})
    if ttft > 0:
        await asyncio.sleep(ttft / 1000)
    completion = 0
    if reply.tool_name is not None and reply.tool_arguments is not None:
        call_id = f"chatcmpl-tool-{secrets.token_hex(16)}"
        yield writer.delta(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": call_id,
                        "type": "function",
                        "function": {"name": reply.tool_name, "arguments": ""},
                    }
                ]
            }
        )
        args = reply.tool_arguments
        third = max(1, len(args) // 3)
        for piece in (args[:third], args[third : 2 * third], args[2 * third :]):
            if piece:
                if delay > 0:
                    await asyncio.sleep(delay)
                completion += 1
                yield writer.delta({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
    else:
        for i, piece in enumerate(reply.pieces):
            if delay > 0 and i > 0:
                await asyncio.sleep(delay)
            completion += 1
            yield writer.content(piece)
    yield writer.delta({}, reply.finish_reason)
    options = body.get("stream_options") or {}
    if options.get("include_usage"):
        yield writer.usage(prompt_tokens, completion)
    yield DONE


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
    if body.get("tools") == []:
        return "tools must not be an empty list"
    return None


def create_app(config: SimConfig) -> Litestar:
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
        if body.get("stream"):
            return Stream(
                _stream(config, reply, body, prompt_tokens), media_type="text/event-stream"
            )
        ttft = float(body.get("sim_ttft_ms", config.ttft_ms))
        total_delay = ttft + reply.token_delay_ms * max(0, len(reply.pieces) - 1)
        if total_delay > 0:
            await asyncio.sleep(total_delay / 1000)
        message: dict[str, Any] = {"role": "assistant", "content": "".join(reply.pieces)}
        completion = len(reply.pieces)
        if reply.tool_name is not None:
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"chatcmpl-tool-{secrets.token_hex(16)}",
                        "type": "function",
                        "function": {"name": reply.tool_name, "arguments": reply.tool_arguments},
                    }
                ],
            }
            completion = 3
        return Response(
            {
                "id": f"chatcmpl-{secrets.token_hex(16)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model") or config.model,
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

    return Litestar(route_handlers=[models, health, chat, embeddings], debug=False)


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

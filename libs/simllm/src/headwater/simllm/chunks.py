"""OpenAI/vLLM wire encoding of chat completion chunks, built with orjson."""

from __future__ import annotations

import secrets
import time
from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"


class ChunkWriter:
    """Encodes the ``data:`` frames of one streamed completion."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{secrets.token_hex(16)}"
        self.created = int(time.time())
        self.model = model
        head = orjson.dumps(
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": model,
            }
        )
        self._prefix = b"data: " + head[:-1] + b',"choices":[{"index":0,"delta":'
        self._content_suffix = b',"logprobs":null,"finish_reason":null}]}\n\n'

    def delta(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        """One chunk carrying ``delta``."""
        if finish_reason is None:
            return self._prefix + orjson.dumps(delta) + self._content_suffix
        tail = orjson.dumps(finish_reason)
        return (
            self._prefix
            + orjson.dumps(delta)
            + b',"logprobs":null,"finish_reason":'
            + tail
            + b',"stop_reason":null}]}\n\n'
        )

    def content(self, text: str) -> bytes:
        """A content delta (the hot path)."""
        return self._prefix + b'{"content":' + orjson.dumps(text) + b"}" + self._content_suffix

    def usage(self, prompt_tokens: int, completion_tokens: int) -> bytes:
        """The usage chunk with empty choices."""
        body = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "completion_tokens": completion_tokens,
            },
        }
        return b"data: " + orjson.dumps(body) + b"\n\n"


def error_body(message: str, code: int = 400, kind: str = "BadRequestError") -> dict[str, Any]:
    """An OpenAI-shaped error."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}

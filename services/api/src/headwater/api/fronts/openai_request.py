"""The body of ``POST /v1/chat/completions``, checked as OpenAI and vLLM check it.

Malformed JSON is a 400; a body of the wrong shape (a missing or ill-typed ``model``,
``messages``, parameter …) a 422 naming the JSON path in ``param``; a sampling parameter out
of its range a 400. Every error is OpenAI's ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec
from litestar import Response

_PATH = re.compile(r" - at `\$\.?(.*)`$")


class ChatMessage(msgspec.Struct, omit_defaults=True):
    """One message of the conversation (other fields are ignored)."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class StreamOptions(msgspec.Struct):
    """``stream_options``."""

    include_usage: bool = False


class ChatCompletionRequest(msgspec.Struct, kw_only=True):
    """The body of ``POST /v1/chat/completions``; a body that does not fit is a 422."""

    model: Annotated[str, msgspec.Meta(min_length=1)]
    messages: Annotated[list[ChatMessage], msgspec.Meta(min_length=1)]
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    n: int | None = None
    stop: str | list[str] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    user: str | None = None


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


def _in_range(value: float | None, low: float, high: float, *, open_low: bool = False) -> bool:
    if value is None:
        return True
    return (low < value if open_low else low <= value) and value <= high


def check_sampling(body: ChatCompletionRequest) -> None:
    """Sampling parameters out of their range are a 400, as OpenAI and vLLM answer them."""
    if not _in_range(body.temperature, 0.0, 2.0):
        raise _bad("`temperature` must be between 0 and 2.", "temperature")
    if not _in_range(body.top_p, 0.0, 1.0, open_low=True):
        raise _bad("`top_p` must be greater than 0 and at most 1.", "top_p")
    for name in ("max_tokens", "max_completion_tokens"):
        value = getattr(body, name)
        if value is not None and value < 1:
            raise _bad(f"`{name}` must be at least 1, got {value}.", name)
    if body.n is not None and body.n != 1:
        raise _bad("Only `n=1` is supported: an agent gives one answer per run.", "n")
    for name in ("presence_penalty", "frequency_penalty"):
        if not _in_range(getattr(body, name), -2.0, 2.0):
            raise _bad(f"`{name}` must be between -2 and 2.", name)
    if isinstance(body.stop, list) and len(body.stop) > 4:
        raise _bad("`stop` takes at most 4 sequences.", "stop")
    if body.top_logprobs is not None and not 0 <= body.top_logprobs <= 20:
        raise _bad("`top_logprobs` must be between 0 and 20.", "top_logprobs")
    if body.stream_options is not None and not body.stream:
        raise _bad("`stream_options` is only allowed when `stream` is true.", "stream_options")


def parse_request(raw: bytes) -> ChatCompletionRequest:
    """Decode and validate a chat completion request.

    Malformed JSON is a 400; a body of the wrong shape (a missing or ill-typed ``model``,
    ``messages``, parameter …) a 422; sampling parameters out of range a 400.
    """
    try:
        body = msgspec.json.decode(raw, type=ChatCompletionRequest)
    except msgspec.ValidationError as exc:
        found = _PATH.search(str(exc))
        param = found.group(1) if found and found.group(1) else None
        raise OpenAIError(422, str(exc), "invalid_request_error", param) from exc
    except msgspec.DecodeError as exc:
        raise _bad(f"Request body is not valid JSON: {exc}") from exc
    check_sampling(body)
    return body

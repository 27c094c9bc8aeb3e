"""The chat-completions wire format, as vLLM and OpenAI send it, decoded by msgspec.

Only the fields the model reads are declared; msgspec skips the rest without building them,
which is what makes a chunk cheap. Every field has a default: servers differ in what they
omit (vLLM sends ``"content": null`` beside tool calls, OpenAI omits ``usage`` mid-stream).
"""

from __future__ import annotations

import msgspec


class FunctionDelta(msgspec.Struct, frozen=True):
    """A streamed fragment of a tool call's function: its name once, its arguments in pieces."""

    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(msgspec.Struct, frozen=True):
    """A streamed fragment of one tool call, keyed by ``index`` within the message."""

    index: int = 0
    id: str | None = None
    function: FunctionDelta | None = None


class Delta(msgspec.Struct, frozen=True):
    """What one chunk adds to the assistant message."""

    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    reasoning_content: str | None = None


class ChunkChoice(msgspec.Struct, frozen=True):
    """One choice of a streamed chunk (the model asks for ``n=1``)."""

    delta: Delta = Delta()
    finish_reason: str | None = None


class PromptTokenDetails(msgspec.Struct, frozen=True):
    """Prompt tokens served from the server's prefix cache."""

    cached_tokens: int | None = None


class CompletionTokenDetails(msgspec.Struct, frozen=True):
    """Completion tokens spent on reasoning."""

    reasoning_tokens: int | None = None


class Usage(msgspec.Struct, frozen=True):
    """Token counts, as the server reports them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int | None = None
    prompt_tokens_details: PromptTokenDetails | None = None
    completion_tokens_details: CompletionTokenDetails | None = None


class Chunk(msgspec.Struct, frozen=True):
    """One ``chat.completion.chunk`` of a stream."""

    id: str | None = None
    model: str | None = None
    choices: list[ChunkChoice] = []
    usage: Usage | None = None
    system_fingerprint: str | None = None


class FunctionCall(msgspec.Struct, frozen=True):
    """A whole tool call's function in a non-streamed reply."""

    name: str = ""
    arguments: str = ""


class ToolCall(msgspec.Struct, frozen=True):
    """A whole tool call in a non-streamed reply."""

    id: str = ""
    function: FunctionCall = FunctionCall()


class ReplyMessage(msgspec.Struct, frozen=True):
    """The assistant message of a non-streamed reply."""

    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    reasoning_content: str | None = None


class Choice(msgspec.Struct, frozen=True):
    """One choice of a non-streamed reply."""

    message: ReplyMessage = ReplyMessage()
    finish_reason: str | None = None


class Completion(msgspec.Struct, frozen=True):
    """A whole ``chat.completion``."""

    id: str | None = None
    model: str | None = None
    choices: list[Choice] = []
    usage: Usage | None = None
    system_fingerprint: str | None = None


class ErrorDetail(msgspec.Struct, frozen=True):
    """The ``error`` object of an OpenAI-shaped error body."""

    message: str = ""
    type: str | None = None
    code: str | int | None = None


class ErrorBody(msgspec.Struct, frozen=True):
    """An OpenAI-shaped error body; vLLM also sends a bare ``message``."""

    error: ErrorDetail | None = None
    message: str | None = None


CHUNK_DECODER = msgspec.json.Decoder(Chunk)
COMPLETION_DECODER = msgspec.json.Decoder(Completion)
ERROR_DECODER = msgspec.json.Decoder(ErrorBody)
ENCODER = msgspec.json.Encoder()

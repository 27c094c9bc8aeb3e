"""Decoded run events for the protocol translators (the LangGraph front never decodes)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from headwater.common.bus import EventSubscription
from headwater.common.schemas import RunEnd, run_end_decoder
from headwater.common.statuses import ACTIVE_RUN_STATUSES
from headwater.common.subjects import END_EVENT
from headwater.common.telemetry.metrics import ACTIVE_STREAMS

IDLE_CHECK_S = 0.5
KEEPALIVE_S = 5.0
_decode = msgspec.json.Decoder()


@dataclass(slots=True)
class Ended:
    """The run's end: its status and the ``/wait`` body (final values or ``__error__``)."""

    status: str
    result: Any


@dataclass(slots=True)
class Idle:
    """Nothing happened for a while; fronts may send a keep-alive."""


@dataclass(slots=True)
class Part:
    """One stream part: SSE event name (``messages``, ``updates``, …), decoded data, sequence."""

    event: str
    data: Any
    seq: int = 0


async def run_parts(
    subscription: EventSubscription, status_of: Callable[[], Awaitable[str | None]]
) -> AsyncIterator[Part | Idle | Ended]:
    """Parts of a run until it ends; closes the subscription."""
    wait = IDLE_CHECK_S
    ACTIVE_STREAMS.labels("front").inc()
    try:
        while True:
            batch = await subscription.next_batch(wait)
            if not batch:
                status = await status_of()
                if status not in ACTIVE_RUN_STATUSES:
                    yield Ended(status or "error", None)
                    return
                wait = KEEPALIVE_S
                yield Idle()
                continue
            for item in batch:
                if item.event == END_EVENT:
                    end: RunEnd = run_end_decoder.decode(item.data)
                    yield Ended(end.status, _decode.decode(end.result))
                    return
                yield Part(item.event, _decode.decode(item.data), item.seq)
    finally:
        ACTIVE_STREAMS.labels("front").dec()
        await subscription.close()


def text_of(content: Any) -> str:
    """The text of LangChain message content (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return ""


@dataclass(slots=True)
class Usage:
    """Token counts summed over the LLM calls of one run."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    seen: set[str] = field(default_factory=set)

    def add(self, message: dict[str, Any]) -> None:
        """Count a message's ``usage_metadata`` once per message id."""
        usage = message.get("usage_metadata")
        key = str(message.get("id"))
        if not usage or key in self.seen:
            return
        self.seen.add(key)
        self.prompt_tokens += int(usage.get("input_tokens") or 0)
        self.completion_tokens += int(usage.get("output_tokens") or 0)

    def as_openai(self) -> dict[str, int]:
        """``{"prompt_tokens", "completion_tokens", "total_tokens"}``."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


def ai_chunk(part: Part) -> dict[str, Any] | None:
    """The AI message chunk of a ``messages`` part, or None for other parts and messages."""
    if part.event != "messages" or not isinstance(part.data, list) or not part.data:
        return None
    chunk = part.data[0]
    if isinstance(chunk, dict) and chunk.get("type") in ("AIMessageChunk", "ai"):
        return chunk
    return None


def update_messages(part: Part) -> list[dict[str, Any]]:
    """Messages written by the nodes of an ``updates`` part."""
    if part.event != "updates" or not isinstance(part.data, dict):
        return []
    out: list[dict[str, Any]] = []
    for update in part.data.values():
        if isinstance(update, dict):
            messages = update.get("messages")
            if isinstance(messages, list):
                out.extend(m for m in messages if isinstance(m, dict))
    return out


def interrupts_of(part: Part) -> list[dict[str, Any]]:
    """Interrupts announced by an ``updates`` part."""
    if part.event != "updates" or not isinstance(part.data, dict):
        return []
    found = part.data.get("__interrupt__")
    return [i for i in found if isinstance(i, dict)] if isinstance(found, list) else []


def final_ai_message(values: Any) -> dict[str, Any] | None:
    """The last AI message in a run's final values."""
    messages = values.get("messages") if isinstance(values, dict) else None
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("type") == "ai":
            return message
    return None

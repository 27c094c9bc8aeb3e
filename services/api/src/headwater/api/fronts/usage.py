"""A run's token usage for the OpenAI front: reported by the model, or counted and estimated.

Each LLM call of a run is one AI message. Its usage comes, in order of preference, from the
usage chunk the model streamed, from the message's ``usage_metadata`` in the run's final
values (the worker fills it in, marked ``estimated``, when the model reported none; see
:mod:`headwater.common.usage`), or from the number of content deltas streamed for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from headwater.api.fronts.events import text_of
from headwater.common.usage import USAGE_SOURCE


@dataclass(slots=True)
class RunUsage:
    """Token counts summed over the LLM calls of one run, and whether any were estimated."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False
    counted: set[str] = field(default_factory=set)
    streamed: dict[str, int] = field(default_factory=dict)

    def _count(self, message: dict[str, Any]) -> bool:
        usage = message.get("usage_metadata")
        key = str(message.get("id"))
        if not isinstance(usage, dict) or key in self.counted:
            return False
        self.counted.add(key)
        self.prompt_tokens += int(usage.get("input_tokens") or 0)
        self.completion_tokens += int(usage.get("output_tokens") or 0)
        if (message.get("response_metadata") or {}).get(USAGE_SOURCE) == "estimated":
            self.estimated = True
        return True

    def chunk(self, chunk: dict[str, Any]) -> None:
        """Take one streamed AI message chunk."""
        if self._count(chunk):
            return
        pieces = chunk.get("tool_call_chunks") or []
        if text_of(chunk.get("content")) or any(p.get("args") for p in pieces):
            key = str(chunk.get("id"))
            self.streamed[key] = self.streamed.get(key, 0) + 1

    def settle(self, values: Any) -> None:
        """Take the run's final values: messages whose usage the stream did not carry."""
        messages = values.get("messages") if isinstance(values, dict) else None
        for message in messages if isinstance(messages, list) else []:
            if isinstance(message, dict) and message.get("type") in ("ai", "AIMessageChunk"):
                self._count(message)
        for key, deltas in self.streamed.items():
            if key not in self.counted:
                self.counted.add(key)
                self.completion_tokens += deltas
                self.estimated = True

    def as_openai(self) -> dict[str, Any]:
        """OpenAI's ``usage`` object; ``"estimated": true`` when any count was not reported."""
        body: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }
        if self.estimated:
            body["estimated"] = True
        return body

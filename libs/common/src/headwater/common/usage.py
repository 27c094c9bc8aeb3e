"""Token usage when the model server does not report it: counted or estimated, and marked so.

vLLM and OpenAI report usage in a stream only when asked (``stream_options.include_usage``;
LangChain's ``ChatOpenAI`` asks only with ``stream_usage=True`` when ``base_url`` is set). The
worker then counts the streamed deltas (one per token on vLLM) as the output tokens, estimates
the prompt from its characters, writes the result as the message's ``usage_metadata`` and
marks the message's ``response_metadata`` with :data:`USAGE_SOURCE` = ``"estimated"``.
"""

from __future__ import annotations

from typing import Literal

USAGE_SOURCE = "headwater_usage"
"""``response_metadata`` key saying where a message's ``usage_metadata`` came from."""

UsageSource = Literal["reported", "estimated"]

CHARS_PER_TOKEN = 4
"""The usual rule of thumb for English text with BPE tokenizers."""
TOKENS_PER_MESSAGE = 3
"""Chat templates wrap every message in a few tokens (OpenAI's cookbook counts 3)."""


def estimate_tokens(text: str) -> int:
    """Tokens in ``text`` by the characters-per-token rule (at least 1 for non-empty text)."""
    if not text:
        return 0
    return max(1, round(len(text) / CHARS_PER_TOKEN))


def estimate_prompt_tokens(texts: list[str]) -> int:
    """Tokens of a prompt made of these message texts."""
    return sum(estimate_tokens(t) + TOKENS_PER_MESSAGE for t in texts)

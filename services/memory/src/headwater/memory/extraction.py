"""Memory extraction: the configured LLM lists the durable facts of a conversation."""

from __future__ import annotations

import json
from typing import Any

import httpx

PROMPT = (
    "Extract durable facts about the user from this conversation (preferences, biography, plans). "
    "Answer with a JSON array of short sentences and nothing else.\n\n"
)


def _transcript(conversation: list[dict[str, Any]]) -> str:
    return "\n".join(f"{m.get('role', 'user')}: {m.get('content', '')}" for m in conversation)


def parse_facts(text: str) -> list[str]:
    """The JSON array the model answered, or one fact per non-empty line."""
    start, end = text.find("["), text.rfind("]")
    if start >= 0 and end > start:
        try:
            parsed = json.loads(text[start : end + 1])
            return [str(f).strip() for f in parsed if str(f).strip()]
        except json.JSONDecodeError:
            pass
    return [line.strip("-* ").strip() for line in text.splitlines() if line.strip()]


async def extract_facts(
    llm: httpx.AsyncClient, model: str, conversation: list[dict[str, Any]]
) -> list[str]:
    """Ask the model; return the facts it found."""
    body = {
        "model": model,
        "temperature": 0,
        "messages": [{"role": "user", "content": PROMPT + _transcript(conversation)}],
    }
    answer = await llm.post("/chat/completions", json=body)
    answer.raise_for_status()
    return parse_facts(answer.json()["choices"][0]["message"]["content"] or "")

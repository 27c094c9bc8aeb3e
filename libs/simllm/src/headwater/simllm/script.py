"""Deciding what the simulator answers: a deterministic, labelled reply for a conversation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from headwater.simllm.config import Rule, SimConfig

LABEL = "[simulated]"


@dataclass(frozen=True, slots=True)
class Reply:
    """What to stream: text pieces or one tool call, and how fast."""

    pieces: list[str]
    tool_name: str | None
    tool_arguments: str | None
    token_delay_ms: float
    finish_reason: str


def message_text(message: dict[str, Any]) -> str:
    """The text of a message whose content is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def split_words(text: str) -> list[str]:
    """Stream pieces: each word with the spaces that follow it."""
    return re.findall(r"\S+\s*|\s+", text)


def _fill(value: Any, last_user: str) -> Any:
    if isinstance(value, str):
        match = re.fullmatch(r"\{after:(\w+)\}", value)
        if match:
            parts = re.split(match.group(1), last_user, maxsplit=1, flags=re.IGNORECASE)
            return parts[1].strip() if len(parts) == 2 else ""
        return value
    if isinstance(value, dict):
        return {k: _fill(v, last_user) for k, v in value.items()}
    return value


def _matches(rule: Rule, last_role: str, last_user: str) -> bool:
    if rule.last_role is not None and rule.last_role != last_role:
        return False
    return rule.contains is None or rule.contains.lower() in last_user.lower()


def plan_reply(config: SimConfig, messages: list[dict[str, Any]], body: dict[str, Any]) -> Reply:
    """The reply for ``messages`` under ``config``'s rules and the request's limits."""
    import json

    last_role = str(messages[-1].get("role", "")) if messages else ""
    users = [m for m in messages if m.get("role") == "user"]
    last_user = message_text(users[-1]) if users else ""
    tool_result = message_text(messages[-1]) if last_role == "tool" else ""
    rule = next((r for r in config.rules if _matches(r, last_role, last_user)), None)
    delay = float(
        body.get(
            "sim_token_delay_ms",
            rule.token_delay_ms
            if rule and rule.token_delay_ms is not None
            else config.token_delay_ms,
        )
    )
    if rule is not None and rule.tool_call is not None and body.get("tools"):
        arguments = json.dumps(_fill(rule.tool_call.arguments, last_user))
        return Reply([], rule.tool_call.name, arguments, delay, "tool_calls")
    if rule is not None and rule.reply is not None:
        pieces = split_words(rule.reply.format(tool_result=tool_result, last_user=last_user))
    else:
        count = (
            rule.reply_tokens
            if rule is not None and rule.reply_tokens is not None
            else config.reply_tokens
        )
        pieces = [f"{LABEL} "] + [f"token-{i} " for i in range(1, count)] if count > 0 else []
    finish = "stop"
    stop = body.get("stop")
    if stop:
        text = "".join(pieces)
        cut = min(
            (i for s in ([stop] if isinstance(stop, str) else stop) if (i := text.find(s)) >= 0),
            default=-1,
        )
        if cut >= 0:
            pieces = split_words(text[:cut])
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(limit, int) and limit >= 0 and len(pieces) > limit:
        pieces, finish = pieces[:limit], "length"
    return Reply(pieces, None, None, delay, finish)

"""Deciding what the simulator answers: a deterministic, labelled reply for a conversation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from headwater.simllm.config import Rule, SimConfig

LABEL = "[simulated]"
"""The first delta of every generated reply, so it can never pass for a model's output."""

_AFTER = re.compile(r"\{after:([^{}]+)\}")
_PIECES = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True, slots=True)
class Reply:
    """What to send: text pieces (one content delta each) or one tool call, and how fast."""

    pieces: list[str]
    tool_name: str | None
    tool_arguments: str | None
    token_delay_ms: float
    finish_reason: str
    report_usage: bool = True

    @property
    def argument_pieces(self) -> list[str]:
        """The tool call's JSON arguments split into up to three streamed fragments."""
        args = self.tool_arguments or ""
        if not args:
            return []
        third = max(1, len(args) // 3)
        parts = (args[:third], args[third : 2 * third], args[2 * third :])
        return [p for p in parts if p]

    @property
    def completion_tokens(self) -> int:
        """The deterministic completion token count reported in ``usage``."""
        return len(self.argument_pieces) if self.tool_name is not None else len(self.pieces)


def message_text(message: dict[str, Any]) -> str:
    """The text of a message whose content is a string or a list of parts (text parts only)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def split_words(text: str) -> list[str]:
    """Stream pieces: each word with the whitespace that follows it."""
    return _PIECES.findall(text)


def generated_pieces(count: int) -> list[str]:
    """A generated reply of ``count`` deltas: the label, then ``sim-token-1 sim-token-2 …``."""
    if count <= 0:
        return []
    return [f"{LABEL} "] + [f"sim-token-{i} " for i in range(1, count)]


def _text_after(word: str, text: str) -> str:
    parts = re.split(re.escape(word), text, maxsplit=1, flags=re.IGNORECASE)
    return parts[1].strip() if len(parts) == 2 else ""


def fill_arguments(value: Any, last_user: str) -> Any:
    """Replace ``{after:WORD}`` placeholders in argument values with the text after WORD."""
    if isinstance(value, str):
        return _AFTER.sub(lambda m: _text_after(m.group(1), last_user), value)
    if isinstance(value, dict):
        return {k: fill_arguments(v, last_user) for k, v in value.items()}
    if isinstance(value, list):
        return [fill_arguments(v, last_user) for v in value]
    return value


def _tool_allowed(rule: Rule, body: dict[str, Any]) -> bool:
    """A tool-call rule is skipped when the request forbids tools or does not offer that one."""
    if rule.tool_call is None:
        return True
    if body.get("tool_choice") == "none":
        return False
    tools = body.get("tools")
    if not tools:
        return True
    names = {(t.get("function") or {}).get("name") for t in tools if isinstance(t, dict)}
    return rule.tool_call.name in names


def user_facts(text: str) -> str:
    """Deterministic "extraction": the user's first-person sentences, as a JSON array."""
    facts = []
    for line in text.splitlines():
        if not line.lower().startswith("user:"):
            continue
        for sentence in re.split(r"(?<=[.!?])\s+", line[5:].strip()):
            lowered = f" {sentence.lower()} "
            if any(marker in lowered for marker in (" my ", " i ", " i'm ")):
                facts.append(sentence.strip().rstrip("."))
    return orjson.dumps(facts).decode()


def image_count(message: dict[str, Any]) -> int:
    """How many ``image_url`` parts a message carries."""
    content = message.get("content")
    if not isinstance(content, list):
        return 0
    return sum(1 for p in content if isinstance(p, dict) and p.get("type") == "image_url")


def _matches(rule: Rule, last_role: str, last_user: str, images: int) -> bool:
    if rule.last_role is not None and rule.last_role != last_role:
        return False
    if rule.has_image is not None and rule.has_image != (images > 0):
        return False
    return rule.contains is None or rule.contains.lower() in last_user.lower()


def find_rule(
    config: SimConfig, messages: list[dict[str, Any]], body: dict[str, Any] | None = None
) -> Rule | None:
    """The first of ``config.rules`` matching the conversation, or None."""
    body = body or {}
    last_role = str(messages[-1].get("role", "")) if messages else ""
    last_user = _last_user(messages)
    users = [m for m in messages if m.get("role") == "user"]
    images = image_count(users[-1]) if users and last_role == "user" else 0
    return next(
        (
            r
            for r in config.rules
            if _matches(r, last_role, last_user, images) and _tool_allowed(r, body)
        ),
        None,
    )


def _last_user(messages: list[dict[str, Any]]) -> str:
    users = [m for m in messages if m.get("role") == "user"]
    return message_text(users[-1]) if users else ""


def _cut_at_stop(pieces: list[str], stop: Any) -> list[str] | None:
    stops = [stop] if isinstance(stop, str) else [s for s in stop or [] if isinstance(s, str)]
    text = "".join(pieces)
    cut = min((i for s in stops if s and (i := text.find(s)) >= 0), default=-1)
    return split_words(text[:cut]) if cut >= 0 else None


def plan_reply(config: SimConfig, messages: list[dict[str, Any]], body: dict[str, Any]) -> Reply:
    """The reply for ``messages`` under ``config``'s rules and the request's limits.

    ``stop`` cuts the text before the first stop string (finish ``stop``); ``max_tokens`` /
    ``max_completion_tokens`` cap the deltas (finish ``length``); ``sim_token_delay_ms``
    overrides the delay between deltas.
    """
    last_role = str(messages[-1].get("role", "")) if messages else ""
    last_user = _last_user(messages)
    tool_result = message_text(messages[-1]) if last_role == "tool" else ""
    rule = find_rule(config, messages, body)
    delay = config.token_delay_ms
    if rule is not None and rule.token_delay_ms is not None:
        delay = rule.token_delay_ms
    if body.get("sim_token_delay_ms") is not None:
        delay = float(body["sim_token_delay_ms"])
    if rule is not None and rule.tool_call is not None:
        arguments = orjson.dumps(fill_arguments(rule.tool_call.arguments, last_user)).decode()
        return Reply([], rule.tool_call.name, arguments, delay, "tool_calls", _reports(rule))
    if rule is not None and rule.reply is not None:
        users = [m for m in messages if m.get("role") == "user"]
        images = str(image_count(users[-1])) if users else "0"
        text = (
            rule.reply.replace("{tool_result}", tool_result)
            .replace("{last_user}", last_user)
            .replace("{images}", images)
            .replace("{user_facts}", user_facts(last_user))
        )
        pieces = split_words(text)
    else:
        count = config.reply_tokens
        if rule is not None and rule.reply_tokens is not None:
            count = rule.reply_tokens
        pieces = generated_pieces(count)
    finish = "stop"
    if body.get("stop"):
        cut = _cut_at_stop(pieces, body["stop"])
        pieces = pieces if cut is None else cut
    limit = body.get("max_completion_tokens")
    if limit is None:
        limit = body.get("max_tokens")
    if isinstance(limit, int) and not isinstance(limit, bool) and len(pieces) > limit >= 0:
        pieces, finish = pieces[:limit], "length"
    return Reply(pieces, None, None, delay, finish, _reports(rule))


def _reports(rule: Rule | None) -> bool:
    return rule is None or rule.report_usage is not False

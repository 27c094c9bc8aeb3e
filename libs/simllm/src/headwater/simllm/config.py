"""The simulator's knobs and scripted rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec


class ToolCallSpec(msgspec.Struct, frozen=True):
    """A tool call to answer with. Argument values may hold ``{after:WORD}`` placeholders."""

    name: str
    arguments: dict[str, Any] = msgspec.field(default_factory=dict)


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    """A scripted reply; the first rule that matches the conversation answers.

    ``contains`` matches (case-insensitively) the last user message; ``last_role`` the role of
    the last message; ``has_image`` whether the last user message carries image parts.
    ``reply`` may use ``{tool_result}``, ``{last_user}`` and ``{images}`` (how many).
    ``report_usage=False`` plays a server that never reports usage in a stream, even when
    asked with ``stream_options.include_usage``.
    """

    contains: str | None = None
    last_role: str | None = None
    has_image: bool | None = None
    reply: str | None = None
    tool_call: ToolCallSpec | None = None
    token_delay_ms: float | None = None
    reply_tokens: int | None = None
    report_usage: bool | None = None


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(last_role="tool", reply="The tool returned: {tool_result}."),
    Rule(has_image=True, reply="I see {images} image(s)."),
    Rule(contains="extract durable facts", reply="{user_facts}"),
    Rule(
        contains="email",
        tool_call=ToolCallSpec(
            "send_email", {"to": "team@example.com", "subject": "{after:about}"}
        ),
    ),
    Rule(
        contains="calculate",
        tool_call=ToolCallSpec("calculator", {"expression": "{after:calculate}"}),
    ),
    Rule(contains="long pause", reply_tokens=2, token_delay_ms=6000.0),
    Rule(contains="slow", reply_tokens=40, token_delay_ms=50.0),
    Rule(contains="without usage", reply="This reply comes without usage.", report_usage=False),
    Rule(contains="hello", reply="Hello! I am the Headwater simulator."),
)


class SimConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Server-wide defaults; a request may override delays with ``sim_ttft_ms``/``sim_token_delay_ms``."""

    model: str = "headwater-sim"
    ttft_ms: float = 0.0
    token_delay_ms: float = 0.0
    reply_tokens: int = 200
    rules: tuple[Rule, ...] = DEFAULT_RULES


def load_rules(path: str | Path) -> tuple[Rule, ...]:
    """Read a JSON list of rules."""
    return tuple(msgspec.json.decode(Path(path).read_bytes(), type=list[Rule]))


class RulesError(ValueError):
    """A rules file that cannot be read; the message names the file and the problem."""


def scripted_rules(path: str | Path) -> tuple[Rule, ...]:
    """A project's rules file ahead of :data:`DEFAULT_RULES`.

    A tool-call rule without ``last_role`` answers only a user message (``last_role`` =
    ``"user"``): its ``contains`` still matches once the tool has answered, and the run
    would call the tool forever. After the tool, the built-in ``last_role: "tool"`` rule (or
    one of the file's) answers with text.
    """
    try:
        rules = load_rules(path)
    except FileNotFoundError as exc:
        raise RulesError(f"rules file not found: {path}") from exc
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise RulesError(f"rules file {path}: {exc}") from exc
    guarded = tuple(
        msgspec.structs.replace(rule, last_role="user")
        if rule.tool_call is not None and rule.last_role is None
        else rule
        for rule in rules
    )
    return guarded + DEFAULT_RULES

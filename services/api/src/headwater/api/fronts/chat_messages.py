"""The ``/ws`` chat protocol's messages: a client frame parsed into a turn (or refused with
the protocol's error code), and the server messages built from a run's parts. No socket
here: :mod:`headwater.api.fronts.chat_socket` drives them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec

from headwater.api.fronts.events import Part
from headwater.api.system.hygiene import NUL_ESCAPE


@dataclass(frozen=True, slots=True)
class Say:
    """A user message to run the graph on."""

    content: str


@dataclass(frozen=True, slots=True)
class Answer:
    """An ``interrupt_response``: what the interrupted graph resumes with."""

    resume: Any


@dataclass(frozen=True, slots=True)
class Turn:
    """One validated client message for a thread."""

    name: str
    request: Say | Answer
    assistant_id: str | None


class Refused(Exception):
    """A client message the protocol does not accept; becomes an ``error`` message."""

    def __init__(self, message: str, code: str, thread_id: str | None = None) -> None:
        super().__init__(message)
        self.message, self.code, self.thread_id = message, code, thread_id


def frame_size(raw: str | bytes) -> int:
    """Bytes in a frame (text frames are UTF-8 on the wire)."""
    return len(raw) if isinstance(raw, bytes) else len(raw.encode())


def parse_turn(raw: str | bytes) -> Turn:
    """A client frame (already within the size limit) as a turn, or :class:`Refused`."""
    try:
        message = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise Refused("Invalid JSON.", "invalid_json") from None
    if NUL_ESCAPE.search(raw.encode() if isinstance(raw, str) else raw):
        raise Refused("Messages may not hold a NUL character.", "invalid_message")
    if not isinstance(message, dict):
        raise Refused("Messages must be JSON objects.", "invalid_message")
    kind, name = message.get("type"), message.get("thread_id")
    if kind not in ("message", "interrupt_response"):
        raise Refused(
            'Unknown message type: expected "message" or "interrupt_response".', "unknown_type"
        )
    if not isinstance(name, str) or not name:
        raise Refused("Missing thread_id.", "missing_thread_id")
    assistant = message.get("assistant_id")
    if assistant is not None and (not isinstance(assistant, str) or not assistant):
        raise Refused("assistant_id must be a non-empty string.", "invalid_message", name)
    if kind == "message":
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            raise Refused("Empty content.", "empty_content", name)
        return Turn(name, Say(content), assistant)
    return Turn(name, Answer(resume_value(message, name)), assistant)


def resume_value(message: dict[str, Any], name: str) -> Any:
    """``approved`` as a bare boolean (``value`` instead when given), keyed by
    ``interrupt_id`` when the client names the interrupt it answers."""
    if "value" in message:
        value = message["value"]
    elif isinstance(message.get("approved"), bool):
        value = message["approved"]
    else:
        raise Refused(
            "interrupt_response needs approved: true or false (or a value).",
            "invalid_message",
            name,
        )
    interrupt_id = message.get("interrupt_id")
    if interrupt_id is None:
        return value
    if not isinstance(interrupt_id, str) or not interrupt_id:
        raise Refused("interrupt_id must be a non-empty string.", "invalid_message", name)
    return {interrupt_id: value}


def node_messages(part: Part) -> Iterator[tuple[str, dict[str, Any]]]:
    """(node, message) for the messages each node wrote in an ``updates`` part."""
    if part.event != "updates" or not isinstance(part.data, dict):
        return
    for node, update in part.data.items():
        messages = update.get("messages") if isinstance(update, dict) else None
        if isinstance(messages, list):
            yield from ((node, m) for m in messages if isinstance(m, dict))


def interrupt_message(name: str, pending: dict[str, Any]) -> dict[str, Any]:
    """An object value spread into the message (the protocol's keys win), any other under
    ``value``."""
    value = pending.get("value")
    fields = value if isinstance(value, dict) else {"value": value}
    message = {"type": "interrupt", "thread_id": name, **fields}
    message.update(type="interrupt", thread_id=name, interrupt_id=pending.get("id"))
    return message

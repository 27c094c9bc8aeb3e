"""The one SSE framer: ``event:``/``data:``/``id:`` lines around data the worker encoded."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable

import orjson

from headwater.api.streaming.items import Ended, Idle, Part, StreamItem

HEARTBEAT = b": heartbeat\r\n\r\n"

_MESSAGES = {
    "missing_end": "The run ended but its end event was not found; "
    "rejoin with Last-Event-ID to read what is stored.",
    "gave_up": "The event bus stayed unreachable; rejoin with Last-Event-ID.",
    "slow_reader": "The client read too slowly and was dropped; rejoin with Last-Event-ID.",
}


_HEADS: dict[str, bytes] = {}
"""``event: …\\r\\ndata: `` per event name (a handful of names: one per stream mode)."""


def event_frame(event: str, data: bytes) -> bytes:
    """``event: …\\r\\ndata: …\\r\\n\\r\\n``: an event without an id (errors, the console's
    live feed), which a rejoin does not resume from."""
    return b"event: %s\r\ndata: %s\r\n\r\n" % (event.encode(), data)


def sse_frame(event: str, data: bytes, seq: int) -> bytes:
    """``event: …\\r\\ndata: …\\r\\nid: …\\r\\n\\r\\n`` as langgraph-api frames it."""
    head = _HEADS.get(event)
    if head is None:
        head = b"event: %s\r\ndata: " % event.encode()
        if len(_HEADS) < 1024:  # names are few; a stream of odd ones must not grow it
            _HEADS[event] = head
    return b"%s%s\r\nid: %d\r\n\r\n" % (head, data, seq)


def error_frame(ended: Ended) -> bytes:
    """The ``error`` event (no id: a rejoin resumes after the last real one)."""
    body = orjson.dumps({"error": "StreamInterrupted", "message": _MESSAGES[ended.reason]})
    return event_frame("error", body)


def part_frames(parts: Iterable[Part], keep: Callable[[str], bool] | None = None) -> bytes:
    """The frames of parts that arrived together, as one write."""
    if keep is None:
        return b"".join([sse_frame(p.event, p.data, p.seq) for p in parts])
    return b"".join([sse_frame(p.event, p.data, p.seq) for p in parts if keep(p.event)])


async def sse_body(
    items: AsyncIterator[StreamItem], keep: Callable[[str], bool] | None = None
) -> AsyncGenerator[bytes, None]:
    """SSE bytes of a run: its parts, heartbeats, an ``error`` event if it broke off."""
    async for item in items:
        if isinstance(item, list):
            out = part_frames(item, keep)
            if out:
                yield out
        elif isinstance(item, Idle):
            yield HEARTBEAT
        else:
            if item.failed:
                yield error_frame(item)
            return

"""Relaying a run's bus events to a client: SSE frames, or the final ``/wait`` body.

Both are encoders over ``streaming.read_run``: event data is written as the worker encoded
it, only the ``event:``/``data:``/``id:`` framing is added (``streaming.sse``). A stream
ends on the run's end event; a stream that cannot end normally ends with an ``error`` event
(the client can rejoin with ``Last-Event-ID``), never silently.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable

import orjson

from headwater.api.streaming import HEARTBEAT, Ended, Idle, RunStatusProbe, read_run, sse_frame
from headwater.api.streaming.sse import sse_body
from headwater.common.bus import EventSubscription

__all__ = ["HEARTBEAT", "HEARTBEAT_S", "final_result", "mode_filter", "sse_events", "sse_frame"]

HEARTBEAT_S = 5.0
StatusCheck = RunStatusProbe
"""The run's status from the shared watch (see ``streaming.status_watch``)."""


def mode_filter(modes: list[str] | None) -> Callable[[str], bool] | None:
    """A predicate keeping events of the given stream modes (join-stream's ``stream_mode``)."""
    if not modes:
        return None
    wanted = {"messages" if m in ("messages", "messages-tuple") else m for m in modes}
    wanted |= {"metadata", "error"}

    def keep(event: str) -> bool:
        base = event.split("|", 1)[0].split("/", 1)[0]
        return base in wanted

    return keep


async def _abandon(on_abandon: Callable[[], Awaitable[None]] | None) -> None:
    if on_abandon is not None:
        with contextlib.suppress(Exception):
            await asyncio.shield(on_abandon())


async def sse_events(
    subscription: EventSubscription,
    status_of: StatusCheck,
    *,
    on_abandon: Callable[[], Awaitable[None]] | None = None,
    keep: Callable[[str], bool] | None = None,
    keepalive_s: float = HEARTBEAT_S,
) -> AsyncGenerator[bytes, None]:
    """SSE bytes of a run until its end; a heartbeat every ``keepalive_s``.

    ``on_abandon`` runs when the client leaves before the end (not when it is dropped for
    reading too slowly: it can resume).
    """
    items = read_run(
        subscription,
        status_of.run_id,
        status_of.watch,
        healthy=status_of.healthy,
        keepalive_s=keepalive_s,
    )
    body = sse_body(items, keep)
    finished = False
    try:
        async for chunk in body:
            yield chunk
        finished = True
    finally:
        await body.aclose()
        await items.aclose()
        if not finished:
            await _abandon(on_abandon)


async def final_result(
    subscription: EventSubscription,
    status_of: StatusCheck,
    fallback: Callable[[], Awaitable[bytes]],
    *,
    on_abandon: Callable[[], Awaitable[None]] | None = None,
    keepalive_s: float = HEARTBEAT_S,
) -> AsyncGenerator[bytes, None]:
    """The ``/wait`` and ``/join`` body: a newline every ``keepalive_s``, then the run's
    result JSON (from its end event; from the database when the log has none)."""
    items = read_run(
        subscription,
        status_of.run_id,
        status_of.watch,
        healthy=status_of.healthy,
        keepalive_s=keepalive_s,
    )
    finished = False
    try:
        async for item in items:
            if isinstance(item, Idle):
                yield b"\n"
            elif isinstance(item, Ended):
                finished = True
                if item.reason == "end_event" and item.result is not None:
                    yield item.result
                elif item.reason == "gave_up":
                    error = {
                        "error": "StreamInterrupted",
                        "message": "the event bus is unreachable",
                    }
                    yield orjson.dumps({"__error__": error})
                else:
                    yield await fallback()
                return
    finally:
        await items.aclose()
        if not finished:
            await _abandon(on_abandon)

"""Relaying a run's bus events to a client: SSE frames, or the final ``/wait`` body.

Event data is written as the worker encoded it; only the ``event:``/``data:``/``id:``
framing is added here. Whatever is waiting when the client is ready is written at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from headwater.common.bus import EventSubscription
from headwater.common.schemas import run_end_decoder
from headwater.common.subjects import END_EVENT
from headwater.common.telemetry.metrics import ACTIVE_STREAMS

HEARTBEAT = b": heartbeat\r\n\r\n"
HEARTBEAT_S = 5.0
FIRST_STATUS_CHECK_S = 0.5
LINGER_S = 0.002
"""Events arriving within this long of the previous write wait for it to pass, so that a
burst of tokens goes out in a few writes; an event after a quiet spell goes out at once."""

StatusCheck = Callable[[], Awaitable[str | None]]
"""Returns the run's status, or None when the run is gone."""


class KeepAlive:
    """When a response's keep-alives are due: every ``HEARTBEAT_S`` from its start, whatever
    else it writes (as langgraph-api), so a proxy's idle timeout never sees a silent body."""

    def __init__(self, interval: float = HEARTBEAT_S) -> None:
        self._clock = asyncio.get_running_loop().time
        self._interval = interval
        self._next = self._clock() + interval

    def remaining(self, cap: float) -> float:
        """Seconds to wait for events before the next keep-alive is due (at most ``cap``)."""
        return max(0.0, min(cap, self._next - self._clock()))

    def due(self) -> bool:
        """Whether a keep-alive is due now; if so, the next one is one interval later."""
        now = self._clock()
        if now < self._next:
            return False
        self._next = max(self._next + self._interval, now)
        return True


def sse_frame(event: str, data: bytes, seq: int) -> bytes:
    """``event: …\\r\\ndata: …\\r\\nid: …\\r\\n\\r\\n`` as langgraph-api frames it."""
    return b"event: %s\r\ndata: %s\r\nid: %d\r\n\r\n" % (event.encode(), data, seq)


async def _final_status(status_of: StatusCheck) -> bool:
    status = await status_of()
    return status is None or status not in ("pending", "running")


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


async def sse_events(
    subscription: EventSubscription,
    status_of: StatusCheck,
    *,
    on_abandon: Callable[[], Awaitable[None]] | None = None,
    keep: Callable[[str], bool] | None = None,
) -> AsyncIterator[bytes]:
    """SSE bytes of a run until its end event; a heartbeat every ``HEARTBEAT_S``.

    When idle, the run's status is checked too, so a run whose end event is gone (expired,
    or its worker died after finishing) never leaves the client hanging.
    """
    finished = False
    wait = FIRST_STATUS_CHECK_S
    loop = asyncio.get_running_loop()
    last_write = 0.0
    keep_alive = KeepAlive()
    idle_since = loop.time()
    ACTIVE_STREAMS.labels("sse").inc()
    try:
        while True:
            idle = loop.time() - idle_since
            batch = await subscription.next_batch(keep_alive.remaining(wait - idle))
            if keep_alive.due():
                yield HEARTBEAT
            if not batch:
                if loop.time() - idle_since < wait:
                    continue
                if await _final_status(status_of):
                    finished = True
                    return
                wait, idle_since = HEARTBEAT_S, loop.time()
                continue
            idle_since = loop.time()
            quiet = loop.time() - last_write
            if quiet < LINGER_S and batch[-1].event != END_EVENT:
                await asyncio.sleep(LINGER_S - quiet)
                batch += await subscription.next_batch(0)
            out = bytearray()
            for item in batch:
                if item.event == END_EVENT:
                    finished = True
                    break
                if keep is None or keep(item.event):
                    out += sse_frame(item.event, item.data, item.seq)
            if out:
                yield bytes(out)
                last_write = loop.time()
            if finished:
                return
    finally:
        ACTIVE_STREAMS.labels("sse").dec()
        if not finished and on_abandon is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(on_abandon())
        await subscription.close()


async def final_result(
    subscription: EventSubscription,
    status_of: StatusCheck,
    fallback: Callable[[], Awaitable[bytes]],
    *,
    on_abandon: Callable[[], Awaitable[None]] | None = None,
) -> AsyncIterator[bytes]:
    """The ``/wait`` and ``/join`` body: a newline every ``HEARTBEAT_S``, then the run's
    result JSON."""
    finished = False
    wait = FIRST_STATUS_CHECK_S
    loop = asyncio.get_running_loop()
    keep_alive = KeepAlive()
    idle_since = loop.time()
    try:
        while True:
            idle = loop.time() - idle_since
            batch = await subscription.next_batch(keep_alive.remaining(wait - idle))
            for item in batch:
                if item.event == END_EVENT:
                    finished = True
                    yield bytes(run_end_decoder.decode(item.data).result)
                    return
            if keep_alive.due():
                yield b"\n"
            if batch:
                idle_since = loop.time()
            elif loop.time() - idle_since >= wait:
                if await _final_status(status_of):
                    finished = True
                    yield await fallback()
                    return
                wait, idle_since = HEARTBEAT_S, loop.time()
    finally:
        if not finished and on_abandon is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(on_abandon())
        await subscription.close()

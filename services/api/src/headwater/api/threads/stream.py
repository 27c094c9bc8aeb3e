"""``GET /threads/{thread_id}/stream``: every run of a thread, current and future, as one SSE.

Run events live on ``<ns>.events.<thread>.<run>``, so one ordered consumer on the thread's
wildcard yields them all in one order, with ids (stream sequences) that only grow: a
reconnect with ``Last-Event-ID`` resumes exactly after the last event seen. A run's internal
end becomes ``metadata {"status": "run_done", "run_id": …}``; state updates made with
``POST /threads/{id}/state`` are the thread's own ``state_update`` events. The stream never
ends on its own (as langgraph-api's); the client closes it, or the thread is deleted. A thread
created later under a deleted thread's id never shows the deleted one's events.

Without ``Last-Event-ID`` the stream starts at the first event of the run in progress (so a
viewer joining mid-run misses none of it), or at the next event when the thread is quiet.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter
from litestar.response import Stream

from headwater.api.auth.authorization import AuthHandlers
from headwater.api.runs.responses import (
    SSE_HEADERS,
    SSE_MEDIA_TYPE,
    STREAM_ID_PATTERN,
    after_seq_of,
    query_modes,
)
from headwater.api.shared.context import Sessions
from headwater.api.shared.errors import NotFound, Unprocessable
from headwater.api.streaming import HEARTBEAT, Ended, Idle, error_frame, read_thread, sse_frame
from headwater.api.threads.access import owned_thread
from headwater.common.bus import Bus, EventSubscription, RunEvent
from headwater.common.codec import dumps
from headwater.common.db import repository
from headwater.common.db.models import ThreadRow
from headwater.common.subjects import END_EVENT, THREAD_LEVEL

THREAD_STREAM_MODES = ("run_modes", "lifecycle", "state_update")


def thread_modes(*raw: list[str] | None) -> frozenset[str]:
    """The requested thread stream modes (default ``run_modes``); unknown ones are a 422."""
    modes = {m for values in raw for m in (query_modes(values) or [])}
    unknown = sorted(modes - set(THREAD_STREAM_MODES))
    if unknown:
        raise Unprocessable(
            f"Invalid stream_mode {unknown}: expected any of {list(THREAD_STREAM_MODES)}"
        )
    return frozenset(modes or {"run_modes"})


def thread_frame(item: RunEvent, modes: frozenset[str]) -> bytes:
    """The SSE frame of one thread event under ``modes`` (empty: not wanted)."""
    if item.run_id == THREAD_LEVEL:
        return sse_frame(item.event, item.data, item.seq) if "state_update" in modes else b""
    lifecycle = "run_modes" in modes or "lifecycle" in modes
    if item.event == END_EVENT:
        if not lifecycle:
            return b""
        done = dumps({"status": "run_done", "run_id": item.run_id})
        return sse_frame("metadata", done, item.seq)
    if item.event == "metadata":
        return sse_frame(item.event, item.data, item.seq) if lifecycle else b""
    return sse_frame(item.event, item.data, item.seq) if "run_modes" in modes else b""


async def thread_sse(
    subscription: EventSubscription, modes: frozenset[str], after: int
) -> AsyncGenerator[bytes, None]:
    """SSE bytes of a thread's events after ``after``, heartbeats every few seconds, until the
    client goes or the thread is deleted (an ``error`` event if the client read too slowly)."""
    items = read_thread(subscription, after)
    try:
        async for item in items:
            if isinstance(item, list):
                out = b"".join([thread_frame(part, modes) for part in item])
                if out:
                    yield out
            elif isinstance(item, Idle):
                yield HEARTBEAT
            elif isinstance(item, Ended):
                if item.failed:
                    yield error_frame(item)
                return
    finally:
        await items.aclose()


async def _start_seq(bus: Bus, sessions: Sessions, thread_id: str) -> int:
    """Where a stream without ``Last-Event-ID`` starts: at the current run, or now."""
    head = await bus.last_event_seq()
    async with sessions() as session:
        current = await repository.oldest_active_run(session, thread_id)
    first = await bus.first_event_seq(thread_id, current) if current else None
    return first - 1 if first is not None else head


async def _still_there(sessions: Sessions, thread: ThreadRow) -> bool:
    """After subscribing: the same thread, not being deleted (then its marker reaches us)."""
    async with sessions() as session:
        now = await session.get(ThreadRow, thread.thread_id)
    return (
        now is not None
        and not now.deleting
        and now.owner == thread.owner
        and now.events_after == thread.events_after
    )


class ThreadStreamController(Controller):
    """The thread-level stream."""

    path = "/threads/{thread_id:str}/stream"
    tags = ["Threads"]

    @get("/")
    async def join_thread_stream(
        self,
        bus: NamedDependency[Bus],
        sessions: NamedDependency[Sessions],
        auth: NamedDependency[AuthHandlers],
        owner: NamedDependency[str],
        thread_id: FromPath[str],
        last_event_id: Annotated[
            str | None, HeaderParameter(name="Last-Event-ID", pattern=STREAM_ID_PATTERN)
        ] = None,
        stream_mode: FromQuery[list[str] | None] = None,
        stream_modes: FromQuery[list[str] | None] = None,
    ) -> Stream:
        """Stream every run of the thread, current and future (``run_modes``, ``lifecycle``,
        ``state_update``); resume after ``Last-Event-ID``."""
        modes = thread_modes(stream_mode, stream_modes)
        thread = await owned_thread(sessions, auth, thread_id, owner)
        if last_event_id is not None:
            after = after_seq_of(last_event_id)
        else:
            after = await _start_seq(bus, sessions, thread.thread_id)
        after = max(after, thread.events_after)
        subscription = await bus.subscribe_thread_events(thread.thread_id, after_seq=after)
        if not await _still_there(
            sessions, thread
        ):  # deleted meanwhile: its marker may be behind us
            await subscription.close()
            raise NotFound(f"Thread with ID {thread_id} not found")
        return Stream(
            thread_sse(subscription, modes, thread.events_after),
            media_type=SSE_MEDIA_TYPE,
            headers=SSE_HEADERS,
        )

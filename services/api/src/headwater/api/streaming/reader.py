"""A run's (or a thread's) events as ``list[Part] | Idle | Ended``, from one subscription.

A run's stream ends on its end event. The database is consulted only when nothing arrives:
once the shared watch says the run is final and the subscription has delivered everything
stored, a stream that saw nothing of the run waits one more check, then ends normally (its
events expired, or there were none). A stream that saw parts waits for the end event up to
the watch's ``give_up_s`` (a busy worker may still be sending it; a redelivered request
announces it again), then ends with ``missing_end``, or ``gave_up`` if the bus was out of
reach.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable

from headwater.api.streaming.items import Ended, Idle, Part, StreamItem
from headwater.api.streaming.status_watch import RunStatusWatch
from headwater.common.bus import EventSubscription
from headwater.common.schemas import run_end_decoder
from headwater.common.subjects import END_EVENT, THREAD_DELETED_EVENT, THREAD_LEVEL
from headwater.common.telemetry.metrics import ACTIVE_STREAMS

KEEPALIVE_S = 5.0
LINGER_S = 0.002
"""Events arriving within this long of the previous write wait for it to pass, so that a
burst of tokens goes out in a few writes; an event after a quiet spell goes out at once."""

Healthy = Callable[[], Awaitable[bool]]


def _ended(item: Part) -> Ended:
    end = run_end_decoder.decode(item.data)
    return Ended("end_event", end.status, bytes(end.result))


async def read_run(  # noqa: C901 - to split (issue 14)
    subscription: EventSubscription,
    run_id: str,
    watch: RunStatusWatch | None,
    *,
    healthy: Healthy | None = None,
    keepalive_s: float = KEEPALIVE_S,
    linger_s: float = LINGER_S,
) -> AsyncGenerator[StreamItem, None]:
    """The run's parts until its end; ``Idle`` every ``keepalive_s``. Closes the subscription.

    Without a ``watch`` the stream waits for the end event alone.
    """
    loop = asyncio.get_running_loop()
    next_tick = loop.time() + keepalive_s
    last_parts = 0.0
    saw_parts = False
    final_since: float | None = None
    check_s = watch.interval if watch is not None else keepalive_s
    give_up_s = watch.give_up_s if watch is not None else 0.0
    ACTIVE_STREAMS.labels("sse").inc()
    try:
        while True:
            now = loop.time()
            batch = await subscription.next_batch(max(0.0, min(next_tick - now, check_s)))
            if batch:
                quiet = loop.time() - last_parts
                if quiet < linger_s and batch[-1].event != END_EVENT:
                    await asyncio.sleep(linger_s - quiet)
                    batch += await subscription.next_batch(0)
                for index, item in enumerate(batch):
                    if item.event == END_EVENT:
                        if index:
                            yield batch[:index]
                        yield _ended(item)
                        return
                yield batch
                saw_parts = True
                final_since = None
                last_parts = loop.time()
            if subscription.overflowed:
                yield Ended("slow_reader")
                return
            now = loop.time()
            if now >= next_tick:
                next_tick = now + keepalive_s
                yield Idle()
            if batch or watch is None or not watch.is_final(run_id):
                continue
            if final_since is None:
                final_since = now  # an end event may still be on its way: one more check
                continue
            waited = now - final_since
            if waited < check_s:
                continue
            # The run's parts came and its end did not: a busy worker may still be sending
            # it, or a redelivery will announce it again; wait for it up to ``give_up_s``.
            if saw_parts and waited < give_up_s:
                continue
            readable = subscription.caught_up and (healthy is None or await healthy())
            if readable:
                status = watch.status(run_id)
                yield Ended("missing_end" if saw_parts else "status", status)
                return
            if waited > give_up_s:
                yield Ended("gave_up", watch.status(run_id))
                return
    finally:
        ACTIVE_STREAMS.labels("sse").dec()
        await subscription.close()


async def read_thread(
    subscription: EventSubscription, after: int, *, keepalive_s: float = KEEPALIVE_S
) -> AsyncGenerator[StreamItem, None]:
    """A thread's events with ids above ``after`` (its runs' and its own), ``Idle`` every
    ``keepalive_s``, until the thread is deleted or the reader falls behind. Closes the
    subscription."""
    loop = asyncio.get_running_loop()
    next_tick = loop.time() + keepalive_s
    ACTIVE_STREAMS.labels("sse").inc()
    try:
        while True:
            batch = await subscription.next_batch(max(0.0, next_tick - loop.time()))
            parts: list[Part] = []
            for item in batch:
                if item.seq <= after:
                    continue  # an earlier thread's, under the same id
                if item.run_id == THREAD_LEVEL and item.event == THREAD_DELETED_EVENT:
                    if parts:
                        yield parts
                    yield Ended("deleted")
                    return
                parts.append(item)
            if parts:
                yield parts
            if subscription.overflowed:
                yield Ended("slow_reader")
                return
            if loop.time() >= next_tick:
                next_tick = loop.time() + keepalive_s
                yield Idle()
    finally:
        ACTIVE_STREAMS.labels("sse").dec()
        await subscription.close()

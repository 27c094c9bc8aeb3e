"""Reading what the event log holds of one run, once, with the time each part was stored."""

from __future__ import annotations

import asyncio

from headwater.common.bus import Bus, RunEvent
from headwater.common.subjects import END_EVENT

MAX_EVENTS = 20_000
"""The inspector shows at most this many parts of one run (the first ones)."""
QUIET_S = 0.25
"""A running run's log is read until nothing more arrives for this long."""
READ_BUDGET_S = 5.0


async def stored_events(bus: Bus, thread_id: str, run_id: str) -> tuple[list[RunEvent], bool]:
    """The run's stored parts in order (its end event included), and whether the list was cut
    at ``MAX_EVENTS``. A finished run's log ends at its end event; a live run's at what is
    stored now."""
    if await bus.first_event_seq(thread_id, run_id) is None:
        return [], False  # nothing stored (yet, or any more): no need to wait for it
    subscription = await bus.subscribe_events(thread_id, run_id, after_seq=0)
    events: list[RunEvent] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READ_BUDGET_S
    try:
        while (left := deadline - loop.time()) > 0:
            batch = await subscription.next_batch(min(QUIET_S, left))
            if not batch:
                # Something is stored: wait for the first part however slow the consumer.
                if events and (subscription.caught_up or subscription.overflowed):
                    break
                continue
            events.extend(batch)
            if any(item.event == END_EVENT for item in batch) or len(events) >= MAX_EVENTS:
                break
    finally:
        await subscription.close()
    return events[:MAX_EVENTS], len(events) >= MAX_EVENTS

"""What the NATS bus hands out: run deliveries, and event and control subscriptions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from headwater.common.bus.base import ControlSubscription, QueuedEvents, RunDelivery, RunEvent
from headwater.common.bus.framing import decode_parts, event_id
from headwater.common.schemas import RunControl, run_control_decoder, run_request_decoder
from headwater.common.subjects import EVENT_HEADER, FRAME_HEADER

log = logging.getLogger(__name__)


class NatsDelivery(RunDelivery):
    """A JetStream message of the RUNS stream, with its acknowledgement verbs."""

    def __init__(self, msg: Msg) -> None:
        self._msg = msg
        self.request = run_request_decoder.decode(msg.data)
        self.headers = dict(msg.headers or {})
        self.attempt = msg.metadata.num_delivered

    async def ack(self) -> None:
        await self._msg.ack()

    async def nak(self, delay: float | None = None) -> None:
        await self._msg.nak(delay=delay)

    async def term(self) -> None:
        await self._msg.term()

    async def in_progress(self) -> None:
        await self._msg.in_progress()


def to_events(msg: Msg) -> tuple[list[RunEvent], int]:
    """The events a stored message carries, and how many messages the reader has yet to get.

    A batch (``FRAME_HEADER``) holds many parts; an older publisher's message holds one, its
    name in ``EVENT_HEADER``. Ids follow ``bus.framing``.
    """
    headers = msg.headers or {}
    if msg.reply:  # a consumer's delivery: its ack subject says where it is in the stream
        metadata = msg.metadata
        seq, pending = metadata.sequence.stream, metadata.num_pending
        stored_at = metadata.timestamp.timestamp()
    else:
        seq, pending, stored_at = 0, 0, 0.0
    run_id = msg.subject.rsplit(".", 1)[-1]
    if FRAME_HEADER not in headers:
        event = headers.get(EVENT_HEADER, "message")
        return [RunEvent(event_id(seq, 0), event, msg.data, headers, run_id, stored_at)], pending
    try:
        parts = decode_parts(msg.data)
    except ValueError:
        log.error("skipping undecodable event batch %d on %s", seq, msg.subject)
        return [], pending
    return [
        RunEvent(event_id(seq, index), event, data, headers, run_id, stored_at)
        for index, (event, data) in enumerate(parts)
    ], pending


Resubscribe = Callable[["NatsEvents", int], Awaitable[Subscription]]


class NatsEvents(QueuedEvents):
    """Events pushed by an ordered consumer, buffered (bounded) until read; a reader that
    falls behind pauses the consumer, which starts again after what it read."""

    def __init__(self, after: int, buffer_bytes: int, resubscribe: Resubscribe) -> None:
        super().__init__(after, buffer_bytes)
        self.sub: Subscription | None = None
        self._resubscribe = resubscribe
        self._stopping: set[asyncio.Task[None]] = set()
        self._closed = False
        self._generation = 0

    def callback(self) -> Callable[[Msg], Awaitable[None]]:
        """The push callback of a new consumer; a paused consumer's last pushes are ignored."""
        self._generation += 1
        generation = self._generation

        async def on_msg(msg: Msg) -> None:
            if generation != self._generation:
                return
            events, pending = to_events(msg)
            for event in events:
                self.offer(event)
            self.caught_up = pending == 0 and not self._paused

        return on_msg

    def pause(self) -> None:
        self._generation += 1
        sub, self.sub = self.sub, None
        self.caught_up = False
        if sub is not None:
            task = asyncio.get_running_loop().create_task(_unsubscribe(sub))
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    async def resume(self, after: int) -> None:
        if not self._closed:
            self.sub = await self._resubscribe(self, after)

    async def close(self) -> None:
        self._closed = True
        if self.sub is not None:
            sub, self.sub = self.sub, None
            await _unsubscribe(sub)


async def _unsubscribe(sub: Subscription) -> None:
    with contextlib.suppress(Exception):
        await sub.unsubscribe()


class NatsControl(ControlSubscription):
    """Control messages of one run, from a core subscription."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[RunControl] = asyncio.Queue()
        self.sub: Subscription | None = None

    async def on_msg(self, msg: Msg) -> None:
        try:
            self._queue.put_nowait(run_control_decoder.decode(msg.data))
        except ValueError:
            log.warning("ignoring malformed control message on %s", msg.subject)

    async def get(self) -> RunControl:
        return await self._queue.get()

    async def close(self) -> None:
        if self.sub is not None:
            sub, self.sub = self.sub, None
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

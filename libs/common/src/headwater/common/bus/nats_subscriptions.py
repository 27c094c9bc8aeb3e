"""What the NATS bus hands out: run deliveries, and event and control subscriptions."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from headwater.common.bus.base import ControlSubscription, QueuedEvents, RunDelivery, RunEvent
from headwater.common.schemas import RunControl, run_control_decoder, run_request_decoder
from headwater.common.subjects import EVENT_HEADER

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


def to_event(msg: Msg) -> RunEvent:
    """A stored event as a reader sees it (its stream sequence is in the reply subject)."""
    headers = msg.headers or {}
    # Reply subject: $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>
    seq = int(msg.reply.split(".")[-4]) if msg.reply else 0
    return RunEvent(
        seq=seq,
        event=headers.get(EVENT_HEADER, "message"),
        data=msg.data,
        headers=headers,
        run_id=msg.subject.rsplit(".", 1)[-1],
    )


class NatsEvents(QueuedEvents):
    """Events pushed by an ordered consumer, queued until read."""

    def __init__(self) -> None:
        super().__init__()
        self.sub: Subscription | None = None

    async def on_msg(self, msg: Msg) -> None:
        self._queue.put_nowait(to_event(msg))

    async def close(self) -> None:
        if self.sub is not None:
            sub, self.sub = self.sub, None
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

"""The Bus interface every implementation fulfils (see tests/contract)."""

from __future__ import annotations

import abc
import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

from headwater.common.schemas import RunControl, RunRequest

RequestHandler = Callable[[bytes, Mapping[str, str]], Awaitable[bytes]]


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One stored event of a run: its id (the SSE ``id``), name and JSON body.

    ``seq`` is the event id: the sequence of the bus message that carried it times
    ``PARTS_PER_MESSAGE`` plus its index in that message (see ``bus.framing``). Ids are
    unique and increasing across every run, so one order covers a whole thread; every
    ``after_seq`` of the Bus is such an id. ``run_id`` says whose event it is
    (``THREAD_LEVEL`` for a thread's own events).
    """

    seq: int
    event: str
    data: bytes
    headers: Mapping[str, str]
    run_id: str = ""
    time: float = 0.0
    """When the bus stored it (Unix seconds; 0 when unknown): the run inspector's timeline."""


class RunDelivery(abc.ABC):
    """A run request handed to a worker, with JetStream's acknowledgement verbs."""

    request: RunRequest
    headers: Mapping[str, str]
    attempt: int

    @abc.abstractmethod
    async def ack(self) -> None:
        """The run reached a final status: never deliver it again."""

    @abc.abstractmethod
    async def nak(self, delay: float | None = None) -> None:
        """Hand the run back for redelivery after ``delay`` seconds."""

    @abc.abstractmethod
    async def term(self) -> None:
        """Poison message: never deliver it again."""

    @abc.abstractmethod
    async def in_progress(self) -> None:
        """Still working: reset the redelivery timer."""


class EventSubscription(abc.ABC):
    """A live, replaying view of one run's events. Close it when done.

    Memory stays bounded for a slow reader: the in-process bus reads from its shared log,
    the NATS bus pauses its consumer when the buffer is full and resumes after the last
    event read. A subscription that cannot resume sets ``overflowed`` once the events
    buffered before were read and delivers nothing more (the reader can resume after the
    last id it saw).
    """

    overflowed: bool = False
    caught_up: bool = True
    """Whether every event stored when the last one was delivered has been delivered."""

    @abc.abstractmethod
    def __aiter__(self) -> AsyncIterator[RunEvent]:
        """Iterate events in sequence order, forever (the caller stops at ``__end__``)."""

    @abc.abstractmethod
    async def next_batch(self, timeout: float | None) -> list[RunEvent]:
        """Wait up to ``timeout`` for events; return every event already waiting."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop receiving; idempotent."""


DEFAULT_BUFFER_BYTES = 8 << 20
"""What one subscription buffers for a slow reader before it pauses (bytes of data)."""


class QueuedEvents(EventSubscription):
    """An event subscription fed into a bounded buffer by a push consumer.

    When the buffer is full, ``pause`` is called (stop the consumer) and later events are
    ignored; once the reader has taken what is buffered, ``resume`` is awaited with the
    last id it took (start a consumer after it). The default cannot resume: it marks the
    subscription overflowed.
    """

    def __init__(self, after: int = -1, buffer_bytes: int = DEFAULT_BUFFER_BYTES) -> None:
        self._events: deque[RunEvent] = deque()
        self._ready = asyncio.Event()
        self._buffered = 0
        self._limit = buffer_bytes
        self._paused = False
        self.after = after
        """Events with an id at or below this are not delivered (a batch resumed mid-way)."""
        self.pauses = 0

    def offer(self, event: RunEvent) -> None:
        """Buffer one event for the reader (called by the bus, in order)."""
        if self._paused or event.seq <= self.after:
            return
        size = len(event.data) + 64
        if self._buffered + size > self._limit and self._events:
            self._paused = True  # a slow reader: stop here, go on after what it read
            self.pauses += 1
            self.pause()
            return
        self._buffered += size
        self._events.append(event)
        self.after = event.seq
        self._ready.set()

    def pause(self) -> None:
        """The buffer is full: stop pushing (no await: called from the push callback)."""

    async def resume(self, after: int) -> None:
        """Push again, events after ``after``. Default: cannot, the reader is dropped."""
        self.overflowed = True

    async def close(self) -> None:
        """Stop receiving (the bus's subclass stops its consumer); idempotent."""

    async def __aiter__(self) -> AsyncIterator[RunEvent]:
        """Events in order, until the reader is dropped."""
        while not self.overflowed:
            for event in await self.next_batch(None):
                yield event

    async def next_batch(self, timeout: float | None) -> list[RunEvent]:
        """Wait up to ``timeout`` for the first event; return it with all already queued."""
        if not self._events and self._paused:
            self._paused = False
            await self.resume(self.after)
        if not self._events:
            if self.overflowed:
                return []
            self._ready.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self._ready.wait()
            except TimeoutError:
                return []
        batch = list(self._events)
        self._events.clear()
        self._buffered = 0
        return batch


class ControlSubscription(abc.ABC):
    """Control messages addressed to one run."""

    @abc.abstractmethod
    async def get(self) -> RunControl:
        """Wait for the next control message."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop receiving; idempotent."""


class Bus(abc.ABC):
    """Transport between the API, workers and memory service."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect and make sure streams and consumers exist."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Flush and disconnect."""

    @abc.abstractmethod
    async def healthy(self) -> bool:
        """Whether the transport is reachable now."""

    # runs -----------------------------------------------------------------
    @abc.abstractmethod
    async def submit_run(
        self, request: RunRequest, headers: Mapping[str, str] | None = None
    ) -> None:
        """Queue a run request; resubmitting the same ``run_id`` is deduplicated."""

    @abc.abstractmethod
    async def fetch_runs(self, batch: int, timeout: float) -> list[RunDelivery]:
        """Take up to ``batch`` run requests, waiting at most ``timeout`` seconds."""

    @abc.abstractmethod
    async def has_run_request(self, run_id: str) -> bool:
        """Whether the run's request is still queued or delivered but unacknowledged."""

    # events ---------------------------------------------------------------
    @abc.abstractmethod
    async def publish_event(
        self,
        thread_id: str,
        run_id: str,
        event: str,
        data: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Queue an event for the run's stream; returns once it is queued, not stored.

        Parts of one run published close together share one bus message. Waits (never
        raises) while too much of the run is unsent; raises only when earlier events of the
        run could not be stored within the bus's retry time.
        """

    @abc.abstractmethod
    async def publish_event_confirmed(
        self,
        thread_id: str,
        run_id: str,
        event: str,
        data: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        """Append an event, wait until it (and everything before it) is stored; its id."""

    @abc.abstractmethod
    async def subscribe_events(
        self, thread_id: str, run_id: str, after_seq: int = 0
    ) -> EventSubscription:
        """Events of one run with an id greater than ``after_seq``, then live ones."""

    @abc.abstractmethod
    async def subscribe_thread_events(
        self, thread_id: str, after_seq: int | None = None
    ) -> EventSubscription:
        """Every event of every run of a thread, and the thread's own, in sequence order.

        From after ``after_seq``; with ``None``, only those published from now on.
        """

    @abc.abstractmethod
    async def purge_thread_events(self, thread_id: str) -> None:
        """Forget every stored event of a thread and its runs (the thread was deleted).

        Open subscriptions stay open and see what is published afterwards.
        """

    @abc.abstractmethod
    async def last_event_seq(self) -> int:
        """An id at or after the newest stored event of any run (0 when there is none)."""

    @abc.abstractmethod
    async def first_event_seq(self, thread_id: str, run_id: str) -> int | None:
        """The id of a run's first stored event, or None when it has none (yet)."""

    # control --------------------------------------------------------------
    @abc.abstractmethod
    async def send_control(self, message: RunControl) -> None:
        """Deliver a control message to whoever holds the run now."""

    @abc.abstractmethod
    async def subscribe_control(self, run_id: str) -> ControlSubscription:
        """Receive control messages for one run."""

    # request-reply --------------------------------------------------------
    @abc.abstractmethod
    async def request(
        self, payload: bytes, timeout: float, headers: Mapping[str, str] | None = None
    ) -> bytes:
        """Ask any worker a graph question; raise ``TimeoutError`` if none answers."""

    @abc.abstractmethod
    async def serve_requests(self, handler: RequestHandler) -> None:
        """Answer graph questions (one of the queue group answers each)."""

    @abc.abstractmethod
    async def queue_stats(self) -> tuple[int, int]:
        """Run requests waiting, and delivered but unacknowledged (consumer lag)."""

    @abc.abstractmethod
    async def stop_serving(self) -> None:
        """Stop answering graph questions and taking runs (a draining worker)."""

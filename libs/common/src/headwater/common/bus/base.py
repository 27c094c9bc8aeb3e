"""The Bus interface every implementation fulfils (see tests/contract)."""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

from headwater.common.schemas import RunControl, RunRequest

RequestHandler = Callable[[bytes, Mapping[str, str]], Awaitable[bytes]]


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One stored event of a run: its sequence (the SSE ``id``), name and JSON body.

    Sequences are unique and increasing across every run, so one order covers a whole
    thread. ``run_id`` says whose event it is (``THREAD_LEVEL`` for a thread's own events).
    """

    seq: int
    event: str
    data: bytes
    headers: Mapping[str, str]
    run_id: str = ""


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
    """A live, replaying view of one run's events. Close it when done."""

    @abc.abstractmethod
    def __aiter__(self) -> AsyncIterator[RunEvent]:
        """Iterate events in sequence order, forever (the caller stops at ``__end__``)."""

    @abc.abstractmethod
    async def next_batch(self, timeout: float | None) -> list[RunEvent]:
        """Wait up to ``timeout`` for events; return every event already waiting."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop receiving; idempotent."""


class QueuedEvents(EventSubscription):
    """An event subscription fed into an asyncio queue (both buses' readers are)."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[RunEvent] = asyncio.Queue()

    async def __aiter__(self) -> AsyncIterator[RunEvent]:
        """Events in order, forever."""
        while True:
            yield await self._queue.get()

    async def next_batch(self, timeout: float | None) -> list[RunEvent]:
        """Wait up to ``timeout`` for the first event; return it with all already queued."""
        if self._queue.empty():
            try:
                async with asyncio.timeout(timeout):
                    first = await self._queue.get()
            except TimeoutError:
                return []
            batch = [first]
        else:
            batch = []
        while not self._queue.empty():
            batch.append(self._queue.get_nowait())
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

    @abc.abstractmethod
    async def watch_exhausted_runs(self, handler: Callable[[str], Awaitable[None]]) -> None:
        """Call ``handler`` with the run id of each request that used up its deliveries.

        Such a request is never delivered again (its workers died on every attempt); the
        run must be failed by whoever watches, or it stays active forever.
        """

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
        """Append an event to the run's stream without waiting for a round trip."""

    @abc.abstractmethod
    async def publish_event_confirmed(
        self,
        thread_id: str,
        run_id: str,
        event: str,
        data: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        """Append an event, wait until it (and everything before it) is stored; its seq."""

    @abc.abstractmethod
    async def subscribe_events(
        self, thread_id: str, run_id: str, after_seq: int = 0
    ) -> EventSubscription:
        """Events of one run with sequence greater than ``after_seq``, then live ones."""

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
        """The sequence of the newest stored event of any run (0 when there is none)."""

    @abc.abstractmethod
    async def first_event_seq(self, thread_id: str, run_id: str) -> int | None:
        """The sequence of a run's first stored event, or None when it has none (yet)."""

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

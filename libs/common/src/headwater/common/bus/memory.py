"""The in-process Bus: one asyncio loop, no network. For ``headwater dev`` and unit tests.

It keeps JetStream's semantics that the rest of Headwater relies on: at-least-once run
delivery with redelivery after ``ack_wait``, de-duplication by run id, per-run and per-thread
event logs replayable from an event id, parts batched as the NATS bus batches them (so ids
look alike), and request-reply.

Memory stays bounded: a finished run's events are kept ``finished_retention`` seconds (long
enough for a join or a reconnect), any log ``retention`` seconds after its last event, and
when the logs hold more than ``max_bytes`` the oldest finished runs go first.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from headwater.common.bus.base import (
    Bus,
    ControlSubscription,
    EventSubscription,
    RequestHandler,
    RunDelivery,
    RunEvent,
)
from headwater.common.bus.batching import EventBatcher
from headwater.common.bus.framing import Parts, event_id, last_id_of
from headwater.common.schemas import RunControl, RunRequest
from headwater.common.subjects import END_EVENT, THREAD_LEVEL


@dataclass(slots=True)
class _Queued:
    request: RunRequest
    headers: Mapping[str, str]
    delivered: int = 0
    deadline: float = 0.0
    done: bool = False


@dataclass(slots=True)
class _RunLog:
    events: list[RunEvent] = field(default_factory=list)
    listeners: set[_MemoryEvents] = field(default_factory=set)
    touched: float = field(default_factory=time.monotonic)
    size: int = 0
    finished: float | None = None
    """When the run's end event was stored (None: still running, or a thread's log)."""


class _MemoryDelivery(RunDelivery):
    def __init__(self, bus: InProcessBus, item: _Queued) -> None:
        self._bus = bus
        self._item = item
        self.request = item.request
        self.headers = item.headers
        self.attempt = item.delivered

    async def ack(self) -> None:
        self._bus._finish(self._item)

    async def term(self) -> None:
        self._bus._finish(self._item)

    async def nak(self, delay: float | None = None) -> None:
        self._bus._requeue(self._item, delay or 0.0)

    async def in_progress(self) -> None:
        self._item.deadline = time.monotonic() + self._bus.ack_wait


class _MemoryEvents(EventSubscription):
    """A cursor into a shared log: a slow reader costs no memory of its own."""

    def __init__(self, log: _RunLog, after_seq: int) -> None:
        self._log = log
        self._after = after_seq
        self._ready = asyncio.Event()
        log.listeners.add(self)

    def wake(self) -> None:
        self._ready.set()

    def _unread(self) -> list[RunEvent]:
        events = self._log.events
        if not events or events[-1].seq <= self._after:
            return []
        start = bisect.bisect_right(events, self._after, key=_event_id)
        batch = events[start:]
        self._after = batch[-1].seq
        return batch

    async def __aiter__(self) -> AsyncIterator[RunEvent]:
        while True:
            for event in await self.next_batch(None):
                yield event

    async def next_batch(self, timeout: float | None) -> list[RunEvent]:
        batch = self._unread()
        if batch:
            return batch
        self._ready.clear()
        try:
            async with asyncio.timeout(timeout):
                await self._ready.wait()
        except TimeoutError:
            return []
        return self._unread()

    async def close(self) -> None:
        self._log.listeners.discard(self)


def _event_id(event: RunEvent) -> int:
    return event.seq


class _MemoryControl(ControlSubscription):
    def __init__(self, registry: dict[str, set[asyncio.Queue[RunControl]]], run_id: str) -> None:
        self._registry = registry
        self._run_id = run_id
        self._queue: asyncio.Queue[RunControl] = asyncio.Queue()
        registry.setdefault(run_id, set()).add(self._queue)

    async def get(self) -> RunControl:
        return await self._queue.get()

    async def close(self) -> None:
        listeners = self._registry.get(self._run_id)
        if listeners is not None:
            listeners.discard(self._queue)
            if not listeners:
                del self._registry[self._run_id]


class InProcessBus(Bus):
    """A Bus inside one event loop; create it in a lifespan, never at import."""

    def __init__(
        self,
        *,
        ack_wait: float = 30.0,
        retention: float = 3600.0,
        finished_retention: float = 120.0,
        max_bytes: int = 256 << 20,
        batch_window: float = 0.001,
        max_pending_bytes: int = 1 << 20,
    ) -> None:
        self.ack_wait = ack_wait
        self.retention = retention
        self.finished_retention = finished_retention
        self.max_bytes = max_bytes
        self._batch_window = batch_window
        self._max_pending_bytes = max_pending_bytes
        self._batcher: EventBatcher | None = None
        self._bytes = 0
        self._ready: asyncio.Queue[_Queued] = asyncio.Queue()
        self._in_flight: set[int] = set()
        self._items: dict[int, _Queued] = {}
        self._seen_run_ids: dict[str, float] = {}
        self._logs: dict[tuple[str, str], _RunLog] = {}
        self._seq = 0
        self._control: dict[str, set[asyncio.Queue[RunControl]]] = {}
        self._handlers: list[RequestHandler] = []
        self._next_handler = 0
        self._reaper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap(), name="inprocess-bus-reaper")

    async def close(self) -> None:
        if self._batcher is not None:
            await self._batcher.flush(timeout=5.0)
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None

    async def healthy(self) -> bool:
        return True

    # runs -----------------------------------------------------------------
    async def submit_run(
        self, request: RunRequest, headers: Mapping[str, str] | None = None
    ) -> None:
        if request.run_id in self._seen_run_ids:
            return
        self._seen_run_ids[request.run_id] = time.monotonic()
        item = _Queued(request=request, headers=dict(headers or {}))
        self._items[id(item)] = item
        self._ready.put_nowait(item)

    async def fetch_runs(self, batch: int, timeout: float) -> list[RunDelivery]:
        out: list[RunDelivery] = []
        try:
            first = await asyncio.wait_for(self._ready.get(), timeout)
        except TimeoutError:
            return out
        pending = [first]
        while len(pending) < batch and not self._ready.empty():
            pending.append(self._ready.get_nowait())
        for item in pending:
            if item.done:
                continue
            item.delivered += 1
            item.deadline = time.monotonic() + self.ack_wait
            self._in_flight.add(id(item))
            out.append(_MemoryDelivery(self, item))
        return out

    async def has_run_request(self, run_id: str) -> bool:
        return any(item.request.run_id == run_id and not item.done for item in self._items.values())

    def _finish(self, item: _Queued) -> None:
        item.done = True
        self._in_flight.discard(id(item))
        self._items.pop(id(item), None)

    def _requeue(self, item: _Queued, delay: float) -> None:
        self._in_flight.discard(id(item))
        if item.done:
            self._finish(item)
            return
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._ready.put_nowait, item)
        else:
            self._ready.put_nowait(item)

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(min(0.25, self.ack_wait / 4))
            now = time.monotonic()
            for key in list(self._in_flight):
                item = self._items.get(key)
                if item is not None and not item.done and item.deadline < now:
                    self._requeue(item, 0.0)
            self._forget_old_events(now)
            for run_id, seen in list(self._seen_run_ids.items()):
                if now - seen > 120.0:
                    del self._seen_run_ids[run_id]

    # events ---------------------------------------------------------------
    @property
    def batcher(self) -> EventBatcher:
        """The outboxes that batch each run's parts (made on first use, in the loop)."""
        if self._batcher is None:
            self._batcher = EventBatcher(
                self._store_batch,
                window=self._batch_window,
                max_pending_bytes=self._max_pending_bytes,
            )
        return self._batcher

    async def publish_event(
        self,
        thread_id: str,
        run_id: str,
        event: str,
        data: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        await self.batcher.publish(thread_id, run_id, event, data, headers)

    async def publish_event_confirmed(
        self,
        thread_id: str,
        run_id: str,
        event: str,
        data: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        return await self.batcher.publish(thread_id, run_id, event, data, headers, confirm=True)

    async def _store_batch(
        self, thread_id: str, run_id: str, parts: Parts, headers: Mapping[str, str]
    ) -> int:
        """Store one message of parts under the next sequence; hand them to every reader."""
        self._seq += 1
        seq = self._seq
        stored_at = time.time()
        stored = [
            RunEvent(
                seq=event_id(seq, index),
                event=event,
                data=data,
                headers=headers,
                run_id=run_id,
                time=stored_at,
            )
            for index, (event, data) in enumerate(parts)
        ]
        size = sum(len(item.data) + 160 for item in stored)  # data and the object around it
        now = time.monotonic()
        run_log = self._log((thread_id, run_id))
        for log in (run_log, self._log((thread_id, ""))):
            log.events.extend(stored)
            log.touched = now
            log.size += size
            for listener in log.listeners:
                listener.wake()
        self._bytes += size
        if run_id != THREAD_LEVEL and any(item.event == END_EVENT for item in stored):
            run_log.finished = now
        if self._bytes > self.max_bytes:
            self._forget_old_events(now)
        return seq

    def _log(self, key: tuple[str, str]) -> _RunLog:
        """A run's log, or (run id ``""``) the log of everything on a thread."""
        log = self._logs.get(key)
        if log is None:
            log = self._logs[key] = _RunLog()
        return log

    def _forget_old_events(self, now: float) -> None:  # noqa: C901 - to split (issue 14)
        """Drop logs nobody needs: finished runs after ``finished_retention``, any log after
        ``retention``, and the oldest finished runs while the logs hold over ``max_bytes``."""
        expired: list[tuple[str, str]] = []
        finished: list[tuple[float, tuple[str, str]]] = []
        for key, log in self._logs.items():
            if key[1] == "" or log.listeners:
                continue
            done_long_ago = (
                log.finished is not None and now - log.finished > self.finished_retention
            )
            if done_long_ago or now - log.touched > self.retention:
                expired.append(key)
            elif log.finished is not None:
                finished.append((log.finished, key))
        if self._bytes - sum(self._logs[key].size for key in expired) > self.max_bytes:
            finished.sort()
            spare = self._bytes - sum(self._logs[key].size for key in expired)
            for _when, key in finished:
                if spare <= self.max_bytes:
                    break
                expired.append(key)
                spare -= self._logs[key].size
        threads: dict[str, set[str]] = {}
        for key in expired:
            self._bytes -= self._logs.pop(key).size
            threads.setdefault(key[0], set()).add(key[1])
        for thread_id, runs in threads.items():
            thread_log = self._logs.get((thread_id, ""))
            if thread_log is None:
                continue
            thread_log.events = [item for item in thread_log.events if item.run_id not in runs]
            thread_log.size = sum(len(item.data) + 160 for item in thread_log.events)
        for key, log in list(self._logs.items()):
            idle = now - log.touched > self.finished_retention
            if key[1] == "" and not log.listeners and not log.events and idle:
                del self._logs[key]

    async def subscribe_events(
        self, thread_id: str, run_id: str, after_seq: int = 0
    ) -> EventSubscription:
        return _MemoryEvents(self._log((thread_id, run_id)), after_seq)

    async def subscribe_thread_events(
        self, thread_id: str, after_seq: int | None = None
    ) -> EventSubscription:
        start = last_id_of(self._seq) if after_seq is None else after_seq
        return _MemoryEvents(self._log((thread_id, "")), start)

    async def purge_thread_events(self, thread_id: str) -> None:
        for (thread, _run), log in self._logs.items():
            if thread == thread_id:
                self._bytes -= log.size if _run else 0
                log.events.clear()  # listeners keep their queues: they see what comes next
                log.size = 0

    async def last_event_seq(self) -> int:
        return last_id_of(self._seq) if self._seq else 0

    async def first_event_seq(self, thread_id: str, run_id: str) -> int | None:
        log = self._logs.get((thread_id, run_id))
        return log.events[0].seq if log is not None and log.events else None

    # control --------------------------------------------------------------
    async def send_control(self, message: RunControl) -> None:
        for listener in self._control.get(message.run_id, ()):
            listener.put_nowait(message)

    async def subscribe_control(self, run_id: str) -> ControlSubscription:
        return _MemoryControl(self._control, run_id)

    # request-reply --------------------------------------------------------
    async def request(
        self, payload: bytes, timeout: float, headers: Mapping[str, str] | None = None
    ) -> bytes:
        if not self._handlers:
            raise TimeoutError("no worker answers graph requests")
        handler = self._handlers[self._next_handler % len(self._handlers)]
        self._next_handler += 1
        return await asyncio.wait_for(handler(payload, headers or {}), timeout)

    async def serve_requests(self, handler: RequestHandler) -> None:
        self._handlers.append(handler)

    async def stop_serving(self) -> None:
        self._handlers.clear()

    async def queue_stats(self) -> tuple[int, int]:
        return self._ready.qsize(), len(self._in_flight)

    def redelivered_runs(self) -> int:
        """Requests delivered more than once and not yet acknowledged (JetStream's
        ``num_redelivered``)."""
        return sum(1 for item in self._items.values() if item.delivered > 1 and not item.done)

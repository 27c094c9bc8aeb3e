"""``GET /runs/live``: runs, the queue and the workers pushed to every console that watches.

One ``LiveFeed`` per API process does the reading for all its listeners: every
``interval`` seconds one query for the runs changed since the last look, the queue's
numbers, and every other tick the worker registry. Each listener gets what is its own (runs
of its owner that the auth handlers let it see) through a bounded queue; a listener that
falls that far behind is dropped (the console reconnects and gets a fresh snapshot). The
feed's task runs only while someone listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import msgspec
import nats.errors
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.api.auth.custom import filter_matches
from headwater.api.ops.queries import changed_runs, recent_runs
from headwater.api.ops.queue import queue_view
from headwater.api.ops.run_view import run_views
from headwater.api.ops.schemas import Queue, Worker
from headwater.api.ops.workers import worker_views
from headwater.api.streaming import HEARTBEAT, event_frame
from headwater.common.bus import Bus
from headwater.common.db.models import RunRow, utcnow
from headwater.common.db.repository import aware
from headwater.common.settings import Settings

log = logging.getLogger(__name__)

LISTENER_BACKLOG = 1000
"""Events one listener may have unread before it is dropped."""
OVERLAP_S = 2.0
"""Each look for changed runs reaches this far before the last one (commits land late)."""

WorkersSource = Callable[[], Awaitable[list[Worker]]]


def frame(event: str, payload: Any) -> bytes:
    """One SSE event with a JSON body (framed by the API's one framer)."""
    return event_frame(event, msgspec.json.encode(payload))


@dataclass(eq=False, slots=True)
class Listener:
    """One console's subscription: its owner, the auth handler's filter, its backlog."""

    owner: str
    rule: Mapping[str, Any] | None
    backlog: asyncio.Queue[bytes] = field(
        default_factory=lambda: asyncio.Queue(maxsize=LISTENER_BACKLOG)
    )
    dropped: bool = False

    def sees(self, run: RunRow) -> bool:
        """Whether this run is the listener's to see."""
        if run.owner != self.owner:
            return False
        return not self.rule or filter_matches(dict(self.rule), run.metadata_ or {})

    def offer(self, chunk: bytes) -> None:
        """Queue an event; a listener that has fallen too far behind is dropped."""
        if self.dropped:
            return
        try:
            self.backlog.put_nowait(chunk)
        except asyncio.QueueFull:
            self.dropped = True


class LiveFeed:
    """What every ``/runs/live`` listener of one API process shares."""

    _shared: ClassVar[weakref.WeakKeyDictionary[Any, LiveFeed]] = weakref.WeakKeyDictionary()

    def __init__(
        self,
        bus: Bus,
        sessions: async_sessionmaker[AsyncSession],
        workers: WorkersSource,
        interval: float = 1.0,
    ) -> None:
        self.bus = bus
        self.sessions = sessions
        self.workers = workers
        self.interval = interval
        self.listeners: set[Listener] = set()
        self.queries = 0
        self._seen: dict[str, tuple[str, str]] = {}
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def of(
        cls, bus: Bus, sessions: async_sessionmaker[AsyncSession], workers: WorkersSource
    ) -> LiveFeed:
        """The feed of this API process (one per database sessionmaker)."""
        feed = cls._shared.get(sessions)
        if feed is None:
            feed = cls._shared[sessions] = cls(bus, sessions, workers)
        return feed

    def subscribe(self, listener: Listener) -> None:
        """Start delivering to ``listener`` (and start reading, if nobody was listening)."""
        self.listeners.add(listener)
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._run(), name="runs-live-feed")

    def unsubscribe(self, listener: Listener) -> None:
        """Stop delivering to ``listener``."""
        self.listeners.discard(listener)

    async def _run(self) -> None:
        since = utcnow()
        tick = 0
        while self.listeners:
            await asyncio.sleep(self.interval)
            tick += 1
            try:
                since = await self._publish_runs(since)
                self._broadcast(frame("queue", await queue_view(self.bus)))
                if tick % 2 == 0:
                    self._broadcast(frame("workers", await self.workers()))
            except (SQLAlchemyError, OSError, TimeoutError, nats.errors.Error) as exc:
                # An outage of the database or NATS skips a look; the feed goes on.
                log.warning("the live feed skipped a look: %r", exc)

    async def _publish_runs(self, since: dt.datetime) -> dt.datetime:
        """One query for the runs changed since the last look; each goes to who may see it."""
        self.queries += 1
        latest = since
        async with self.sessions() as session:
            rows = await changed_runs(session, since - dt.timedelta(seconds=OVERLAP_S))
            fresh = []
            for row in rows:
                latest = max(latest, aware(row.updated_at), aware(row.first_token_at or since))
                signature = (row.status, _stamp(row))
                if self._seen.get(row.run_id) != signature:
                    self._seen[row.run_id] = signature
                    fresh.append(row)
            views = await run_views(session, fresh) if fresh else []
        for row, view in zip(fresh, views, strict=True):
            chunk: bytes | None = None
            for listener in list(self.listeners):
                if listener.sees(row):
                    chunk = chunk or frame("run", view)
                    listener.offer(chunk)
        if len(self._seen) > 50_000:  # forget the oldest half; they are long settled
            for run_id in list(self._seen)[:25_000]:
                del self._seen[run_id]
        return latest

    def _broadcast(self, chunk: bytes) -> None:
        for listener in list(self.listeners):
            listener.offer(chunk)
            if listener.dropped:  # its stream ends, or never started: forget it
                self.listeners.discard(listener)


def _stamp(row: RunRow) -> str:
    """What changes when the run moves on: its update time and first token."""
    first = row.first_token_at
    return f"{row.updated_at.isoformat()}|{first.isoformat() if first else ''}"


async def live_body(
    feed: LiveFeed, listener: Listener, snapshot: bytes, keepalive_s: float
) -> AsyncGenerator[bytes, None]:
    """The SSE body of a subscribed listener: its snapshot, then what the feed pushes,
    heartbeats while nothing does; it ends when the client leaves (or reads too slowly)."""
    try:
        yield snapshot
        while not listener.dropped:
            try:
                chunk = await asyncio.wait_for(listener.backlog.get(), keepalive_s)
            except TimeoutError:
                yield HEARTBEAT
                continue
            chunks = [chunk]
            with contextlib.suppress(asyncio.QueueEmpty):
                while len(chunks) < 100:
                    chunks.append(listener.backlog.get_nowait())
            yield b"".join(chunks)
    finally:
        feed.unsubscribe(listener)


async def snapshot_frame(
    bus: Bus,
    sessions: async_sessionmaker[AsyncSession],
    listener: Listener,
    runs: Callable[[], Awaitable[list[RunRow]]],
    workers: WorkersSource,
) -> bytes:
    """``event: snapshot`` with the listener's recent runs, the queue and the workers."""
    rows = [row for row in await runs() if listener.sees(row)]
    async with sessions() as session:
        views = await run_views(session, rows)
    queue: Queue = await queue_view(bus)
    body = {"runs": views, "queue": queue, "workers": await workers()}
    return frame("snapshot", body)


async def live_stream(
    bus: Bus,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    owner: str,
    rule: Any,
    limit: int,
) -> AsyncGenerator[bytes, None]:
    """The ``/runs/live`` body for ``owner`` (whose custom-auth filter is ``rule``): the
    snapshot of their ``limit`` most recent runs, then the shared feed's changes. Raises
    before the stream starts when the snapshot cannot be read (a 503 when NATS is down)."""
    listener = Listener(owner, rule)

    async def workers() -> list[Worker]:
        return await worker_views(sessions, settings.worker_heartbeat_s)

    async def runs() -> list[RunRow]:
        async with sessions() as session:
            return list(await recent_runs(session, owner, limit))

    feed = LiveFeed.of(bus, sessions, workers)
    feed.subscribe(listener)  # before the snapshot: a change made meanwhile is not lost
    try:
        snapshot = await snapshot_frame(bus, sessions, listener, runs, workers)
    except BaseException:
        feed.unsubscribe(listener)
        raise
    return live_body(feed, listener, snapshot, settings.sse_keepalive_s)

"""Coalescing a run's stream parts into few bus messages, with back-pressure.

Each thread has an outbox and at most one sender task. A part published after a quiet
spell is sent at once; parts of the same run published while a message is on its way, or
within ``window`` seconds after it, travel together in the next message. Sends are in order
and one at a time per thread, so a thread's parts (its runs' and its own) are stored in the
order they were published. A publisher waits (never raises) while its thread has more than
``max_pending_bytes`` unsent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from headwater.common.bus.framing import PARTS_PER_MESSAGE, Parts, event_id

log = logging.getLogger(__name__)

SendBatch = Callable[[str, str, Parts, Mapping[str, str]], Awaitable[int]]
"""Store one message of parts for (thread id, run id); return its sequence. It retries
transient failures itself; what it raises is final for those parts."""

MAX_MESSAGE_BYTES = 512 * 1024
"""A message closes at this size (NATS refuses payloads over 1 MB by default)."""


@dataclass(slots=True)
class _Outbox:
    thread_id: str
    parts: Parts = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    """The run id of each part in ``parts``."""
    size: int = 0
    confirms: list[tuple[int, asyncio.Future[int]]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    room: asyncio.Event = field(default_factory=asyncio.Event)
    sender: asyncio.Task[None] | None = None


class EventBatcher:
    """The outboxes of every run a process publishes for; born in a running loop."""

    def __init__(
        self,
        send: SendBatch,
        *,
        window: float = 0.001,
        max_pending_bytes: int = 1 << 20,
    ) -> None:
        self._send = send
        self.window = window
        self.max_pending_bytes = max_pending_bytes
        self._boxes: dict[str, _Outbox] = {}
        self._failed: dict[tuple[str, str], BaseException] = {}

    async def publish(
        self,
        thread_id: str,
        run_id: str,
        event: str,
        data: bytes,
        headers: Mapping[str, str] | None = None,
        *,
        confirm: bool = False,
    ) -> int:
        """Queue one part; with ``confirm``, wait until it is stored and return its id.

        Without ``confirm`` it returns 0 at once, unless the run's unsent parts exceed the
        bound: then it waits for room (back-pressure). A run whose earlier parts could not
        be stored raises that failure once, on its next publish.
        """
        failure = self._failed.pop((thread_id, run_id), None)
        if failure is not None:
            raise failure
        box = self._boxes.get(thread_id)
        if box is None:
            box = self._boxes[thread_id] = _Outbox(thread_id)
        while box.size >= self.max_pending_bytes:
            box.room.clear()
            await box.room.wait()
        box.parts.append((event, data))
        box.runs.append(run_id)
        box.size += len(data) + len(event)
        if headers:
            box.headers.update(headers)
        future: asyncio.Future[int] | None = None
        if confirm:
            future = asyncio.get_running_loop().create_future()
            box.confirms.append((len(box.parts) - 1, future))
        if box.sender is None:
            box.sender = asyncio.create_task(self._drain(box), name=f"events {thread_id}")
        if future is None:
            return 0
        return await asyncio.shield(future)

    def pending(self) -> int:
        """Parts queued and not yet stored, over every run (for tests and metrics)."""
        return sum(len(box.parts) for box in self._boxes.values())

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until every queued part is stored (or ``timeout`` passes)."""
        senders = [box.sender for box in self._boxes.values() if box.sender is not None]
        if senders:
            await asyncio.wait(senders, timeout=timeout)

    async def _drain(self, box: _Outbox) -> None:  # noqa: C901 - to split (issue 14)
        run_id = ""
        try:
            while True:
                if not box.parts:
                    await asyncio.sleep(self.window)  # linger: a burst shares the next message
                    if not box.parts:
                        return
                run_id = box.runs[0]
                parts, confirms, sent_size = self._take(box)
                seq = await self._send(box.thread_id, run_id, parts, box.headers)
                for index, future in confirms:
                    if not future.done():
                        future.set_result(event_id(seq, index))
                box.size -= sent_size
                if box.size < self.max_pending_bytes:
                    box.room.set()
        except BaseException as exc:
            if box.parts or not isinstance(exc, asyncio.CancelledError):
                log.error(
                    "thread %s: %d event(s) not stored: %r", box.thread_id, len(box.parts), exc
                )
            for _index, future in box.confirms:
                if not future.done():
                    future.set_exception(exc)
            failed_runs = {run_id, *box.runs}
            box.confirms.clear()
            box.parts.clear()
            box.runs.clear()
            box.size = 0
            box.room.set()
            if isinstance(exc, asyncio.CancelledError):
                raise
            for failed in failed_runs:
                self._failed[(box.thread_id, failed)] = exc
        finally:
            box.sender = None
            if self._boxes.get(box.thread_id) is box and not box.parts:
                del self._boxes[box.thread_id]

    @staticmethod
    def _take(box: _Outbox) -> tuple[Parts, list[tuple[int, asyncio.Future[int]]], int]:
        """The next message's parts (a prefix of the outbox, all of one run) and the
        confirmations in it."""
        count, size = 0, 0
        limit = min(len(box.parts), PARTS_PER_MESSAGE)
        run_id = box.runs[0]
        while count < limit and box.runs[count] == run_id:
            event, data = box.parts[count]
            part_size = len(data) + len(event)
            if count and size + part_size > MAX_MESSAGE_BYTES:
                break
            size += part_size
            count += 1
        parts = box.parts[:count]
        del box.parts[:count]
        del box.runs[:count]
        confirms = [(i, f) for i, f in box.confirms if i < count]
        box.confirms = [(i - count, f) for i, f in box.confirms if i >= count]
        return parts, confirms, size

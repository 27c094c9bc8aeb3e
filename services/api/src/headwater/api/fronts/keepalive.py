"""SSE keep-alives for any stream of frames: no quiet spell on the wire reaches the interval.

Clients and proxies give up on a silent connection; some clients assert that no gap between
lines reaches 5 s. ``with_keepalives`` wraps any SSE byte stream and writes a comment line
whenever the stream has been quiet for ``interval`` seconds (``HEADWATER_SSE_KEEPALIVE_S``),
whatever the stream is waiting on (the bus, the database, a slow model).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

KEEPALIVE = b": keep-alive\n\n"
MIN_INTERVAL_S = 0.1
"""A floor for the interval: 0 or less would write nothing but keep-alives."""
QUEUED_FRAMES = 64
"""Frames the wrapped stream may run ahead of the client; what is waiting is written at once."""


class _End:
    """The wrapped stream ended (or failed with ``error``)."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


async def _pump(frames: AsyncIterator[bytes], queue: asyncio.Queue[bytes | _End]) -> None:
    try:
        async for frame in frames:
            await queue.put(frame)  # a bounded queue: a slow client holds the producer back
    except Exception as exc:  # noqa: BLE001 - handed to the consumer, which raises it
        await queue.put(_End(exc))
        return
    finally:
        aclose = getattr(frames, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
    await queue.put(_End())


async def with_keepalives(
    frames: AsyncIterator[bytes], interval: float, comment: bytes = KEEPALIVE
) -> AsyncIterator[bytes]:
    """``frames``, with ``comment`` written whenever nothing was written for ``interval`` s."""
    interval = max(interval, MIN_INTERVAL_S)
    queue: asyncio.Queue[bytes | _End] = asyncio.Queue(maxsize=QUEUED_FRAMES)
    producer = asyncio.create_task(_pump(frames, queue))
    try:
        while True:
            try:
                async with asyncio.timeout(interval):
                    item = await queue.get()
            except TimeoutError:
                yield comment
                continue
            out = bytearray()
            while not isinstance(item, _End):
                out += item  # frames already waiting go out in one write
                if queue.empty():
                    break
                item = queue.get_nowait()
            if out:
                yield bytes(out)
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
    finally:
        producer.cancel()
        await asyncio.wait({producer})  # let the wrapped stream clean up; never raises

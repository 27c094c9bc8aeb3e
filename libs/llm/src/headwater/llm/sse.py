"""Reading the ``data:`` payloads of a Server-Sent Events body as it arrives.

A chat-completions stream is ``data: {json}`` lines separated by blank lines and closed by
``data: [DONE]``. Splitting raw bytes on newlines here costs less than httpx's text line
iterator, which decodes every chunk to ``str`` first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator

DONE = b"[DONE]"


class SSEDataReader:
    """Turns byte chunks into the ``data`` payloads of complete lines, in order.

    Comments (``:``), ``event:``/``id:`` lines and blank lines are skipped; a payload split
    across network chunks is kept until its line ends.
    """

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[bytes]:
        """The payloads of every line that ``data`` completes."""
        if self._pending:
            data = self._pending + data
        lines = data.split(b"\n")
        self._pending = lines.pop()
        payloads = []
        for line in lines:
            if line.startswith(b"data:"):
                payload = line[5:].strip()
                if payload:
                    payloads.append(payload)
        return payloads

    def close(self) -> list[bytes]:
        """The payload of a last line that had no newline after it."""
        rest, self._pending = self._pending, b""
        return self.feed(rest + b"\n") if rest else []


async def aiter_payloads(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Every ``data`` payload of an async byte stream up to ``[DONE]`` (not included).

    The loop gets a turn before each payload. Reading bytes that have already arrived does
    not suspend (asyncio returns buffered data at once), so without it a fast server's whole
    reply would be parsed before the first token reached its reader or another run ran.
    """
    reader = SSEDataReader()
    async for chunk in chunks:
        for payload in reader.feed(chunk):
            if payload == DONE:
                return
            await asyncio.sleep(0)
            yield payload
    for payload in reader.close():
        if payload == DONE:
            return
        yield payload


def iter_payloads(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Every ``data`` payload of a byte stream up to ``[DONE]`` (not included)."""
    reader = SSEDataReader()
    for chunk in chunks:
        for payload in reader.feed(chunk):
            if payload == DONE:
                return
            yield payload
    for payload in reader.close():
        if payload == DONE:
            return
        yield payload

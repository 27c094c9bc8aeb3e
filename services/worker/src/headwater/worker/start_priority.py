"""Giving the start of a run priority over the token relays of the runs already streaming.

A run's start is some twenty awaits (claim, checkpoint read, graph setup, the model's first
chunk). On a loop busy relaying the tokens of fifty streaming runs, each of those awaits
waits its turn behind one part of every one of them, so in a burst the last run's first
token came after most of the others had streamed. While a run is starting, a streaming run
pauses after each part it publishes until no run is starting, at most ``max_pause_s``; a run
counts as starting until its first part, at most ``start_budget_s``.
"""

from __future__ import annotations

import asyncio
import contextlib


class RunStarts:
    """The runs being started in one worker process; born in a running loop."""

    def __init__(self, *, max_pause_s: float = 0.02, start_budget_s: float = 0.5) -> None:
        self.max_pause_s = max_pause_s
        self.start_budget_s = start_budget_s
        self._starting: set[object] = set()
        self._none_starting = asyncio.Event()
        self._none_starting.set()

    @property
    def starting(self) -> int:
        """How many runs are starting now."""
        return len(self._starting)

    def begin(self) -> object:
        """A run starts; returns its token for :meth:`started`."""
        token = object()
        self._starting.add(token)
        self._none_starting.clear()
        asyncio.get_running_loop().call_later(self.start_budget_s, self.started, token)
        return token

    def started(self, token: object) -> None:
        """The run published its first part, ended, or used up its budget (idempotent)."""
        self._starting.discard(token)
        if not self._starting:
            self._none_starting.set()

    async def make_way(self) -> None:
        """Called by a streaming run after a part: wait while runs are starting (bounded)."""
        if not self._starting:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.max_pause_s):
                await self._none_starting.wait()

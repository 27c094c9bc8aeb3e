"""What a stream reader yields: parts as they came, idle ticks, and the end."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from headwater.common.bus import RunEvent

Part = RunEvent
"""One stream part: its event id (``seq``), SSE event name and data bytes, as stored."""

EndReason = Literal["end_event", "status", "missing_end", "gave_up", "slow_reader", "deleted"]


@dataclass(frozen=True, slots=True)
class Idle:
    """A keep-alive tick: ``keepalive_s`` passed since the previous one (events or not)."""


@dataclass(frozen=True, slots=True)
class Ended:
    """The stream is over.

    ``end_event``: the run's end arrived on the bus, with its ``status`` and ``result`` (the
    ``/wait`` body). ``status``: the event log holds nothing of the run and the database
    says it is final (events expired, or none were ever written). The others are failures
    the client hears about as an ``error`` event and can resume from with
    ``Last-Event-ID``: ``missing_end`` (final in the database, the log read to its end, no
    end event), ``gave_up`` (the bus stayed unreachable), ``slow_reader`` (the client read
    too slowly and its buffer filled). ``deleted``: the thread was deleted.
    """

    reason: EndReason
    status: str | None = None
    result: bytes | None = None

    @property
    def failed(self) -> bool:
        """Whether the client must be told the stream did not end normally."""
        return self.reason in ("missing_end", "gave_up", "slow_reader")


StreamItem = list[Part] | Idle | Ended
"""Parts come in lists: those that arrived together, so an encoder writes them at once."""

"""Reading a run's (or a thread's) events once, and framing them as SSE.

``reader`` turns a bus subscription into ``Part`` batches, ``Idle`` ticks and one
``Ended``; ``status_watch`` is the safety check shared by every waiting stream; ``sse`` is
the one SSE framer. The LangGraph relay and the thread stream are encoders over the reader;
the other fronts can become encoders over it too.
"""

from headwater.api.streaming.items import Ended, Idle, Part, StreamItem
from headwater.api.streaming.reader import read_run, read_thread
from headwater.api.streaming.sse import HEARTBEAT, error_frame, event_frame, sse_frame
from headwater.api.streaming.status_watch import RunStatusProbe, RunStatusWatch

__all__ = [
    "HEARTBEAT",
    "Ended",
    "Idle",
    "Part",
    "RunStatusProbe",
    "RunStatusWatch",
    "StreamItem",
    "error_frame",
    "event_frame",
    "read_run",
    "read_thread",
    "sse_frame",
]

"""Every NATS stream, subject and consumer name in one place.

Nothing else in Headwater spells a subject: take them from a :class:`Names` built from the
settings' namespace, so that tests can isolate themselves with a unique prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

EVENT_HEADER = "Hw-Event"
"""NATS header carrying the SSE event name of a single-event message (older publishers)."""
FRAME_HEADER = "Hw-Frame"
"""NATS header marking a message whose body is a batch of parts (``bus.framing``)."""
FRAME_VERSION = "1"

TRACEPARENT_HEADER = "traceparent"
END_EVENT = "__end__"
"""Internal last event of every run attempt's stream; never forwarded to clients."""
THREAD_LEVEL = "thread"
"""The run-id slot of events that belong to a thread rather than a run (state updates)."""
THREAD_DELETED_EVENT = "__deleted__"
"""Internal thread-level event: the thread is gone; its streams end here."""


@dataclass(frozen=True, slots=True)
class Names:
    """Stream, subject and consumer names under one namespace prefix (``hw`` by default)."""

    namespace: str = "hw"

    @property
    def runs_stream(self) -> str:
        """Work-queue stream holding run requests."""
        return f"{self.namespace.upper()}_RUNS"

    @property
    def run_requests(self) -> str:
        """Where run requests go: the destination named in spans and docs."""
        return f"{self.namespace}.runs.requests"

    @property
    def all_run_requests(self) -> str:
        """Wildcard the RUNS stream captures: one subject per run."""
        return f"{self.namespace}.runs.requests.*"

    def run_request(self, run_id: str) -> str:
        """Subject of one run's request: the stream can tell whether it is still queued."""
        return f"{self.namespace}.runs.requests.{run_id}"

    @property
    def workers_consumer(self) -> str:
        """Durable pull consumer every worker shares."""
        return f"{self.namespace}-workers"

    @property
    def events_stream(self) -> str:
        """Stream holding every run's events for replay."""
        return f"{self.namespace.upper()}_EVENTS"

    @property
    def all_events(self) -> str:
        """Wildcard the events stream captures."""
        return f"{self.namespace}.events.*.*"

    def run_events(self, thread_id: str, run_id: str) -> str:
        """Subject of one run's events (``run_id`` ``THREAD_LEVEL``: the thread's own)."""
        return f"{self.namespace}.events.{thread_id}.{run_id}"

    def thread_events(self, thread_id: str) -> str:
        """Wildcard of every event of a thread: its runs' and its own."""
        return f"{self.namespace}.events.{thread_id}.*"

    def run_control(self, run_id: str) -> str:
        """Core subject of one run's control messages (cancel)."""
        return f"{self.namespace}.control.{run_id}"

    @property
    def graph_requests(self) -> str:
        """Request-reply subject for work that needs a compiled graph (thread state…)."""
        return f"{self.namespace}.graph.requests"

    @property
    def graph_queue_group(self) -> str:
        """Queue group the workers answer graph requests in."""
        return f"{self.namespace}-graph"

"""Every NATS stream, subject and consumer name in one place.

Nothing else in Headwater spells a subject: take them from a :class:`Names` built from the
settings' namespace, so that tests can isolate themselves with a unique prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

EVENT_HEADER = "Hw-Event"
"""NATS header carrying the SSE event name of a run event; the body is the SSE data."""

TRACEPARENT_HEADER = "traceparent"
END_EVENT = "__end__"
"""Internal last event of every run attempt's stream; never forwarded to clients."""


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
        """Subject run requests are published on."""
        return f"{self.namespace}.runs.requests"

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
        return f"{self.namespace}.events.*"

    def run_events(self, run_id: str) -> str:
        """Subject of one run's events."""
        return f"{self.namespace}.events.{run_id}"

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

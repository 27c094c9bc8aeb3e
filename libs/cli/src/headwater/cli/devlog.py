"""``headwater dev``'s console: one line per HTTP request and one per finished run."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import msgspec

from headwater.cli.waiting import Receive, Scope, Send
from headwater.common.bus.memory import InProcessBus
from headwater.common.schemas import RunEnd, RunRequest
from headwater.common.subjects import END_EVENT

log = logging.getLogger("headwater.dev")
_QUIET_PATHS = frozenset({"/ok", "/healthz", "/readyz", "/metrics"})
_run_end = msgspec.json.Decoder(RunEnd)


class RequestLog:
    """ASGI wrapper: ``GET /threads/… 200 3 ms`` after each HTTP request (probes excepted)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request and remember its status."""
        if scope["type"] != "http" or scope.get("path") in _QUIET_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            log.info(
                "%s %s %s %.0f ms",
                scope.get("method", "?"),
                scope.get("path", ""),
                status or "-",
                (time.perf_counter() - started) * 1000,
            )


class LoggedBus(InProcessBus):
    """The in-process bus, logging ``run <id> assistant <id> (graph <id>): <status> in <s>`` at each run end."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._runs: dict[str, tuple[str, str, float]] = {}

    async def submit_run(
        self, request: RunRequest, headers: Mapping[str, str] | None = None
    ) -> None:
        """Remember when the run was queued and for which graph."""
        self._runs.setdefault(
            request.run_id, (request.assistant_id, request.graph_id, time.perf_counter())
        )
        await super().submit_run(request, headers)

    async def publish_event_confirmed(
        self,
        thread_id: str,
        run_id: str,
        event: str,
        data: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        """Log the run's end (status and duration since it was queued)."""
        if event == END_EVENT and run_id in self._runs:
            assistant, graph, started = self._runs.pop(run_id)
            try:
                status = _run_end.decode(data).status
            except msgspec.DecodeError:
                status = "ended"
            log.info(
                "run %s assistant %s (graph %s): %s in %.2f s",
                run_id,
                assistant,
                graph,
                status,
                time.perf_counter() - started,
            )
        return await super().publish_event_confirmed(thread_id, run_id, event, data, headers)

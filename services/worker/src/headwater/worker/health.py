"""The worker's small HTTP surface: ``/healthz``, ``/readyz`` and ``/metrics``.

Served from a thread by the standard library's WSGI server (prometheus-client's own exposition
app), so it answers even while the event loop is busy. Readiness is refreshed by a task on the
loop that checks the bus and the database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import make_wsgi_app
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.common.bus import Bus

log = logging.getLogger(__name__)
StartResponse = Callable[..., Any]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds are not worth a log line."""


class WorkerHealth:
    """Holds the last readiness check; serves it over HTTP."""

    def __init__(self) -> None:
        self.ready = False
        self.graphs_loaded = False
        self.checks: dict[str, str] = {}
        self._metrics = make_wsgi_app()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return self._json(start_response, "200 OK", b'{"status":"ok"}')
        if path == "/readyz":
            checks = {**self.checks, "graphs": "ok" if self.graphs_loaded else "loading"}
            ready = self.ready and self.graphs_loaded
            body = json.dumps(
                {"status": "ok" if ready else "unavailable", "checks": checks}
            ).encode()
            return self._json(
                start_response, "200 OK" if ready else "503 Service Unavailable", body
            )
        if path == "/metrics":
            return self._metrics(environ, start_response)  # type: ignore[no-any-return]
        return self._json(start_response, "404 Not Found", b'{"detail":"not found"}')

    @staticmethod
    def _json(start_response: StartResponse, status: str, body: bytes) -> list[bytes]:
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    def serve(self, host: str, port: int) -> None:
        """Start serving in a daemon thread."""
        server = make_server(host, port, self, handler_class=_Quiet)
        threading.Thread(target=server.serve_forever, name="worker-health", daemon=True).start()
        log.info(
            "worker health and metrics on http://%s:%d (/healthz, /readyz, /metrics)", host, port
        )

    async def watch(
        self, bus: Bus, sessions: async_sessionmaker[AsyncSession], every: float = 2.0
    ) -> None:
        """Refresh readiness until cancelled."""
        while True:
            checks = {"bus": "ok" if await bus.healthy() else "unavailable"}
            try:
                async with sessions() as session:
                    await session.execute(text("SELECT 1"))
                checks["database"] = "ok"
            except Exception:  # noqa: BLE001 - any failure means not ready
                checks["database"] = "unavailable"
            self.checks = checks
            self.ready = all(v == "ok" for v in checks.values())
            await asyncio.sleep(every)

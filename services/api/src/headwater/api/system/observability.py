"""Request metrics, ``/metrics`` and the OpenTelemetry server spans of the API."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.plugins import InitPluginProtocol
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry import trace
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.api.ops.queue_metrics import record_queue
from headwater.common.bus import Bus
from headwater.common.telemetry.metrics import HTTP_REQUESTS, QUEUE_PENDING
from headwater.common.telemetry.tracing import tracing_configured


def http_metrics(app: ASGIApp) -> ASGIApp:
    """Count HTTP responses by method, route template and status."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                route = scope.get("path_template") or "unmatched"
                method = scope.get("method", "")
                HTTP_REQUESTS.labels(method, route, str(message["status"])).inc()
                span = trace.get_current_span()
                if span.is_recording():  # name server spans by route, not by ids
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
            await send(message)

        await app(scope, receive, counting_send)

    return middleware


@get("/metrics", tags=["System"], include_in_schema=False)
async def metrics(
    bus: NamedDependency[Bus], sessions: NamedDependency[async_sessionmaker[AsyncSession]]
) -> Response[bytes]:
    """Prometheus text format; the queue's gauges are read from the bus on each scrape."""
    try:
        await record_queue(bus, sessions)
    except Exception:  # noqa: BLE001 - a scrape must answer even when the bus does not
        QUEUE_PENDING.set(float("nan"))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def tracing_plugins() -> list[InitPluginProtocol]:
    """Litestar's OpenTelemetry plugin when an exporter is configured; none otherwise."""
    if not tracing_configured():
        return []
    from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

    # No span per ASGI send: an SSE stream would make one per write.
    config: Any = OpenTelemetryConfig(
        exclude=["/metrics", "/healthz", "/readyz", "/ok"], exclude_spans=["receive", "send"]
    )
    return [OpenTelemetryPlugin(config)]

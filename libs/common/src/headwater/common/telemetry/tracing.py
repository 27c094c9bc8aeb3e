"""OpenTelemetry set-up from the standard ``OTEL_*`` variables, and W3C context over NATS.

No exporter configured means the global no-op tracer: spans cost next to nothing.
``HEADWATER_TRACE_FILE`` adds an exporter that appends finished spans as JSON lines (tests,
the trace picture in docs/observability.md).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

TRACER_NAME = "headwater"


class JsonLinesSpanExporter(SpanExporter):
    """Appends each finished span as one JSON line (ids in hex, times in ns)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = [json.dumps(span_record(s), default=str) for s in spans]
        with self._lock, open(self.path, "a", encoding="utf-8") as out:
            out.write("".join(line + "\n" for line in lines))
        return SpanExportResult.SUCCESS


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """A compact, stable description of a finished span."""
    ctx = span.get_span_context()
    parent = span.parent
    return {
        "name": span.name,
        "service": span.resource.attributes.get("service.name"),
        "kind": span.kind.name,
        "trace_id": format(ctx.trace_id, "032x") if ctx else None,
        "span_id": format(ctx.span_id, "016x") if ctx else None,
        "parent_id": format(parent.span_id, "016x") if parent else None,
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
        "events": [
            {"name": e.name, "time_ns": e.timestamp, "attributes": dict(e.attributes or {})}
            for e in span.events
        ],
    }


def tracing_configured(env: Mapping[str, str] | None = None) -> bool:
    """Whether any exporter is configured."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    exporters = env.get("OTEL_TRACES_EXPORTER", "")
    return bool(
        env.get("HEADWATER_TRACE_FILE")
        or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or exporters in ("otlp", "console")
    )


def setup_tracing(service: str, env: Mapping[str, str] | None = None) -> TracerProvider | None:
    """Install a global TracerProvider for ``service`` if an exporter is configured."""
    env = os.environ if env is None else env
    if not tracing_configured(env):
        return None
    resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME", service)})
    provider = TracerProvider(resource=resource)
    if env.get("HEADWATER_TRACE_FILE"):
        provider.add_span_processor(
            SimpleSpanProcessor(JsonLinesSpanExporter(env["HEADWATER_TRACE_FILE"]))
        )
    if env.get("OTEL_TRACES_EXPORTER") == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    if (
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or env.get("OTEL_TRACES_EXPORTER") == "otlp"
    ):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def tracer() -> trace.Tracer:
    """Headwater's tracer (the no-op one when tracing is off)."""
    return trace.get_tracer(TRACER_NAME)


def current_trace_id() -> str | None:
    """The current trace's id (32 hex digits), None when nothing is traced."""
    span_context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(span_context.trace_id) if span_context.is_valid else None


def inject_headers(carrier: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Put the current W3C trace context (``traceparent``) into message headers."""
    propagate.inject(carrier)
    return carrier


def extract_context(headers: Mapping[str, str]) -> context.Context:
    """The trace context carried by message headers."""
    return propagate.extract(dict(headers))

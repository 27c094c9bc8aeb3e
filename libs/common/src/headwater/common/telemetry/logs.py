"""Logging: readable text in dev, JSON lines in the cluster; run lines carry their ids."""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
from typing import Any

from opentelemetry import trace

RUN_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "headwater_run_id", default=None
)
THREAD_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "headwater_thread_id", default=None
)


class RunContextFilter(logging.Filter):
    """Adds ``run_id``, ``thread_id`` and ``trace_id`` to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = RUN_ID.get()
        record.thread_id = THREAD_ID.get()
        span = trace.get_current_span().get_span_context()
        record.trace_id = format(span.trace_id, "032x") if span.is_valid else None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("run_id", "thread_id", "trace_id"):
            value = getattr(record, key, None)
            if value:
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    """Readable lines; run ids appended when there are any."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [
            f"{k}={v}"
            for k in ("run_id", "thread_id", "trace_id")
            if (v := getattr(record, k, None))
        ]
        return f"{line} [{' '.join(ids)}]" if ids else line


def setup_logging(level: str, fmt: str) -> None:
    """Configure the root logger once: ``fmt`` is ``json`` or ``text``."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RunContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for noisy in ("httpx", "httpx2", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

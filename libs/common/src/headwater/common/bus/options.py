"""The settings both buses take for their event path."""

from __future__ import annotations

from typing import Any

from headwater.common.settings import Settings


def event_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of ``NatsBus`` for batching, retries and buffers."""
    return {
        "batch_window": settings.event_batch_window_s,
        "publish_retry": settings.event_publish_retry_s,
        "max_pending_bytes": settings.event_pending_bytes,
        "buffer_bytes": settings.stream_buffer_bytes,
    }


def memory_event_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of ``InProcessBus`` for batching and memory bounds (its readers are
    cursors into the shared log: they buffer nothing)."""
    return {
        "batch_window": settings.event_batch_window_s,
        "max_pending_bytes": settings.event_pending_bytes,
        "finished_retention": settings.finished_run_retention_s,
        "max_bytes": settings.event_memory_bytes,
    }

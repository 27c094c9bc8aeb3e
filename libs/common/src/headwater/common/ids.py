"""Identifiers as the LangGraph Server API mints them."""

from __future__ import annotations

import os
import time
import uuid

# langgraph-api registers each graph as a system assistant with this namespace.
ASSISTANT_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


def assistant_id_for_graph(graph_id: str) -> str:
    """The deterministic id of a graph's default assistant (``agent`` → ``fe096781-…``)."""
    return str(uuid.uuid5(ASSISTANT_NAMESPACE, graph_id))


def uuid7() -> str:
    """A time-ordered UUIDv7, as langgraph-api uses for threads and runs."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def is_uuid(value: str) -> bool:
    """True when ``value`` parses as a UUID."""
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True

"""Identifiers as the LangGraph Server API mints them."""

from __future__ import annotations

import hashlib
import hmac
import uuid

import uuid_utils

# langgraph-api registers each graph as a system assistant with this namespace.
ASSISTANT_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


def assistant_id_for_graph(graph_id: str) -> str:
    """The deterministic id of a graph's default assistant (``agent`` → ``fe096781-…``)."""
    return str(uuid.uuid5(ASSISTANT_NAMESPACE, graph_id))


def uuid7() -> str:
    """A time-ordered UUIDv7, as langgraph-api uses for threads and runs.

    ``uuid_utils`` keeps ids of one process strictly increasing within a millisecond
    (RFC 9562's counter method), so they sort in creation order.
    """
    return str(uuid_utils.uuid7())


def is_uuid(value: str) -> bool:
    """True when ``value`` parses as a UUID."""
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def named_thread_id(secret: str, scope: uuid.UUID, owner: str, name: str) -> str:
    """The thread a caller's named conversation (a session id, a WebSocket thread name) maps to.

    Keyed with a server secret, so nobody can compute another user's thread id in advance and
    create it first (which would lock its owner out); without a secret, a plain UUIDv5.
    """
    if not secret:
        return str(uuid.uuid5(scope, f"{owner}\x00{name}"))
    digest = hmac.new(secret.encode(), scope.bytes + f"{owner}\x00{name}".encode(), hashlib.sha256)
    return str(uuid.UUID(bytes=digest.digest()[:16], version=5))

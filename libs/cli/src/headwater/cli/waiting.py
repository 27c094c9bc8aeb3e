"""What the API port answers while the API waits for NATS or the database.

``/healthz`` says the process lives; ``/readyz`` and every other path answer 503 with the
reason, so a load balancer or a person with curl sees what the API is waiting for.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class WaitingApp:
    """A minimal ASGI app; ``reason`` is updated by the start-up checks."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one HTTP request; lifespan and WebSocket scopes are refused."""
        if scope["type"] == "lifespan":
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        path = scope.get("path", "")
        body: dict[str, Any]
        if path == "/healthz":
            status, body = 200, {"status": "ok"}
        elif path == "/readyz":
            status, body = 503, {"status": "unavailable", "checks": {"startup": self.reason}}
        else:
            status, body = 503, {"detail": f"Headwater is starting: {self.reason}"}
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"retry-after", b"2"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

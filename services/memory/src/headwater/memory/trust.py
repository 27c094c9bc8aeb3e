"""Only the API and workers may call the memory service: they send the shared service token.

The memory service scopes every item under the owner named in ``x-headwater-owner``; anyone
able to call it could name any owner. So every request but the health probes must carry
``HEADWATER_SERVICE_TOKEN`` (compared in constant time), or it is refused with 401.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from headwater.common.memory_contract import SERVICE_TOKEN_HEADER

log = logging.getLogger(__name__)
OPEN_PATHS = frozenset({"/ok", "/health", "/healthz", "/readyz", "/metrics"})
"""Probes and the Prometheus scrape: no user data, no token."""
REFUSAL = msgspec.json.encode(
    {"detail": f"The memory service answers only the API and workers ({SERVICE_TOKEN_HEADER})"}
)


def service_trust(token: str) -> list[Callable[[ASGIApp], ASGIApp]]:
    """Litestar ``middleware=[…]``: the token check, or nothing (logged) without a token."""
    if not token:
        log.warning(
            "HEADWATER_SERVICE_TOKEN is not set: the memory service trusts any caller's "
            "x-headwater-owner; set it on the memory service, the API and the workers"
        )
        return []
    expected = token.encode()
    header = SERVICE_TOKEN_HEADER.encode()

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP or scope.get("path", "") in OPEN_PATHS:
                await app(scope, receive, send)
                return
            given = next((v for k, v in scope.get("headers", []) if k == header), b"")
            if hmac.compare_digest(given, expected):
                await app(scope, receive, send)
                return
            start: Any = {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(REFUSAL)).encode()),
                ],
            }
            end: Any = {"type": "http.response.body", "body": REFUSAL}
            await send(start)
            await send(end)

        return middleware

    return [factory]

"""Security headers on every HTTP response of every front, and CORS from settings."""

from __future__ import annotations

from litestar.config.cors import CORSConfig
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from headwater.common.settings import Settings

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
EXPOSED_HEADERS = ["x-pagination-total", "x-pagination-next", "content-location", "location"]


def security_headers(app: ASGIApp) -> ASGIApp:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to each response start."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware


def cors_config(settings: Settings) -> CORSConfig:
    """CORS for the configured origins; credentials only with explicit origins."""
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()] or ["*"]
    return CORSConfig(
        allow_origins=origins,
        allow_credentials="*" not in origins,
        expose_headers=EXPOSED_HEADERS,
    )

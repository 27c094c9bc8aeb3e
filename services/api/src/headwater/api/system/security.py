"""Security headers on every HTTP response of every front, and CORS from settings."""

from __future__ import annotations

from litestar.config.cors import CORSConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import Message, Scope

from headwater.common.settings import Settings

SECURITY_HEADERS = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
]
EXPOSED_HEADERS = ["x-pagination-total", "x-pagination-next", "content-location", "location"]


async def add_security_headers(message: Message, scope: Scope) -> None:
    """``before_send`` hook: :data:`SECURITY_HEADERS` on each HTTP response start.

    A hook, not a middleware: Litestar runs hooks for every response the application sends,
    its own 404/405 and exception answers included, which route middleware never sees.
    """
    if scope["type"] == ScopeType.HTTP and message["type"] == "http.response.start":
        headers = MutableScopeHeaders.from_message(message)
        for name, value in SECURITY_HEADERS:
            headers[name] = value


def cors_config(settings: Settings) -> CORSConfig:
    """CORS for the configured origins; credentials only with explicit origins."""
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()] or ["*"]
    return CORSConfig(
        allow_origins=origins,
        allow_credentials="*" not in origins,
        expose_headers=EXPOSED_HEADERS,
    )

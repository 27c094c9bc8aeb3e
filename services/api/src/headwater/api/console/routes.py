"""``/console`` routes: the SPA's index for every page path, its hashed assets, its config.

Every ``/console/<path without a dot>`` answers the same ``index.html`` so deep links
(``/console/runs/<id>``) survive a reload; the browser-side router picks the page. Assets have
content-hashed names, so they are cached for a year; the index is revalidated on every load so
a new deploy is picked up at once. The bundle holds no data and is public; the data calls it
makes carry the user's credential like any other client's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec
from litestar import Response, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.static_files import create_static_files_router

from headwater.api.shared.version import HEADWATER_VERSION
from headwater.common.bus import Bus
from headwater.common.bus.nats import NatsBus

CONSOLE_DIST = Path(__file__).resolve().parent.parent / "console_dist"
ASSETS_MAX_AGE_S = 365 * 24 * 3600
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
"""Only the bundle's own files, and calls to this API: nothing external, no inline script."""
NOT_BUILT = (
    "The console is not built into this package (no console_dist/index.html): "
    "run `npm ci && npm run build` in console/"
)

AuthMode = Literal["none", "apikey", "jwt"]
Mode = Literal["dev", "cluster"]


class ConsoleConfig(msgspec.Struct, frozen=True):
    """What the console needs to know before its first data call."""

    auth: AuthMode
    mode: Mode
    version: str
    traces_url: str | None


def _index_response() -> Response[bytes]:
    index = CONSOLE_DIST / "index.html"
    if not index.is_file():
        raise NotFoundException(NOT_BUILT)
    return Response(
        index.read_bytes(),
        media_type=MediaType.HTML,
        headers={
            "content-security-policy": CONTENT_SECURITY_POLICY,
            "cache-control": "no-cache",
        },
    )


def console_routes(auth: AuthMode, traces_url: str) -> Router:
    """The ``/console`` router. ``auth`` is the credential the UI asks for (``none``: none)."""

    @get("/config.json", tags=["Console"], summary="Console configuration (public)")
    async def console_config(bus: NamedDependency[Bus]) -> ConsoleConfig:
        """How the console must authenticate, the deployment mode (``cluster`` on NATS,
        ``dev`` on the in-process bus), the version, and the trace viewer URL template
        (``HEADWATER_TRACES_URL``). Public: it holds no secret."""
        mode: Mode = "cluster" if isinstance(bus, NatsBus) else "dev"
        return ConsoleConfig(
            auth=auth, mode=mode, version=HEADWATER_VERSION, traces_url=traces_url or None
        )

    @get("/", include_in_schema=False)
    async def console_index() -> Response[bytes]:
        """The SPA's index."""
        return _index_response()

    @get("/{page:path}", include_in_schema=False)
    async def console_page(page: FromPath[str]) -> Response[bytes]:
        """The SPA's index for any page path; a path with a dot is a missing file (404)."""
        if "." in page.rsplit("/", 1)[-1]:
            raise NotFoundException(f"No console file {page.lstrip('/')!r}")
        return _index_response()

    assets = create_static_files_router(
        path="/assets",
        directories=[CONSOLE_DIST / "assets"],
        cache_control=CacheControlHeader(max_age=ASSETS_MAX_AGE_S, public=True, immutable=True),
        include_in_schema=False,
        name="console-assets",
    )
    return Router(
        path="/console", route_handlers=[console_config, console_index, console_page, assets]
    )

"""Refusing what no database stores before any handler runs: the NUL character.

PostgreSQL's text and JSONB cannot hold ``\\u0000``; SQLite can. Refusing it here, on every
front, gives one answer (422) on both and before anything is queued or half-written.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, Response
from litestar.enums import MediaType

NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
"""A JSON ``\\u0000`` escape (not an escaped backslash followed by ``u0000``)."""
DETAIL = "The request holds a NUL character (\\u0000), which cannot be stored"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def refuse_nul(request: Request[Any, Any, Any]) -> Response[dict[str, str]] | None:
    """``before_request``: 422 when the path, query or JSON body carries a NUL."""
    query: bytes = request.scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query or "\x00" in request.url.path:
        return _refused()
    if request.method in BODY_METHODS:
        body = await request.body()
        if b"\x00" in body or NUL_ESCAPE.search(body):
            return _refused()
    return None


def _refused() -> Response[dict[str, str]]:
    return Response({"detail": DETAIL}, status_code=422, media_type=MediaType.JSON)

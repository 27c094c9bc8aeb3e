"""Refusing, before any handler runs, request bodies no handler could use safely.

- The NUL character: PostgreSQL's text and JSONB cannot hold ``\\u0000``; SQLite can. Refusing
  it here, on every front, gives one answer (422) on both, before anything is queued or
  half-written.
- Bytes that are not UTF-8: JSON is UTF-8 (RFC 8259); the decoder would raise a bare
  ``UnicodeDecodeError`` deep inside Litestar.
- JSON nested deeper than :data:`MAX_JSON_DEPTH`: the decoder recurses once per level and
  runs out of stack near a thousand; every later encoder (database, bus) recurses too.
"""

from __future__ import annotations

import re
from array import array
from itertools import accumulate
from typing import Any

from litestar import Request, Response
from litestar.enums import MediaType

NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
"""A JSON ``\\u0000`` escape (not an escaped backslash followed by ``u0000``)."""
NUL_DETAIL = "The request holds a NUL character (\\u0000), which cannot be stored"
UTF8_DETAIL = "The request body is not valid UTF-8"
MAX_JSON_DEPTH = 100
"""Deepest JSON nesting accepted (LangGraph states are a few levels deep)."""
DEPTH_DETAIL = f"The request body nests JSON deeper than {MAX_JSON_DEPTH} levels"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 on open, -1 (signed) on close


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``body`` opens more than ``limit`` arrays/objects inside each other.

    Brackets inside strings do not count. Linear in C loops; a body with fewer brackets than
    ``limit`` is not scanned at all.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if len(brackets) <= limit:
        return False
    return max(accumulate(array("b", brackets.translate(_STEPS)))) > limit


def body_problem(body: bytes) -> str | None:
    """Why a request body is refused, or None."""
    if b"\x00" in body or NUL_ESCAPE.search(body):
        return NUL_DETAIL
    if not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return UTF8_DETAIL
    if json_depth_exceeds(body):
        return DEPTH_DETAIL
    return None


async def refuse_bad_input(request: Request[Any, Any, Any]) -> Response[dict[str, str]] | None:
    """``before_request``: 422 when the path or query carries a NUL, or the body is refused
    by :func:`body_problem`."""
    query: bytes = request.scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query or "\x00" in request.url.path:
        return _refused(NUL_DETAIL)
    if request.method in BODY_METHODS:
        problem = body_problem(await request.body())
        if problem is not None:
            return _refused(problem)
    return None


def _refused(detail: str) -> Response[dict[str, str]]:
    return Response({"detail": detail}, status_code=422, media_type=MediaType.JSON)

"""One page of a search as a response, with langgraph-api's pagination headers."""

from __future__ import annotations

from typing import Any

from litestar import Response


def page(items: list[dict[str, Any]], offset: int, total: int) -> Response[list[dict[str, Any]]]:
    """One page of a search, with langgraph-api's pagination headers."""
    headers = {"X-Pagination-Total": str(total)}
    if offset + len(items) < total:
        headers["X-Pagination-Next"] = str(offset + len(items))
    return Response(items, headers=headers)

"""``/store/…`` on the API: forwarded to the memory service with the caller's identity.

The client's own ``x-headwater-owner`` header is never forwarded: the API sets it.
"""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Request, Response, delete, get, post, put

from headwater.api.context import ApiContext
from headwater.api.errors import Unavailable

OWNER_HEADER = "x-headwater-owner"


async def _forward(
    ctx: ApiContext, request: Request[Any, Any, Any], owner: str, method: str, path: str
) -> Response[bytes]:
    if ctx.memory is None:
        raise Unavailable("The memory service is not configured (HEADWATER_MEMORY_URL)")
    try:
        answer = await ctx.memory.request(
            method,
            path,
            content=await request.body(),
            params=dict(request.query_params),
            headers={"content-type": "application/json", OWNER_HEADER: owner},
        )
    except httpx.HTTPError as exc:
        raise Unavailable(f"The memory service did not answer: {type(exc).__name__}") from exc
    return Response(
        answer.content,
        status_code=answer.status_code,
        media_type=answer.headers.get("content-type", "application/json"),
    )


@put("/store/items", status_code=200, tags=["Store"])
async def put_item(ctx: ApiContext, owner: str, request: Request[Any, Any, Any]) -> Response[bytes]:
    """Store an item."""
    return await _forward(ctx, request, owner, "PUT", "/store/items")


@get("/store/items", tags=["Store"])
async def get_item(ctx: ApiContext, owner: str, request: Request[Any, Any, Any]) -> Response[bytes]:
    """One item (``namespace`` dot-joined, ``key``), or null."""
    return await _forward(ctx, request, owner, "GET", "/store/items")


@delete("/store/items", status_code=200, tags=["Store"])
async def delete_item(
    ctx: ApiContext, owner: str, request: Request[Any, Any, Any]
) -> Response[bytes]:
    """Delete an item."""
    return await _forward(ctx, request, owner, "DELETE", "/store/items")


@post("/store/items/search", status_code=200, tags=["Store"])
async def search_items(
    ctx: ApiContext, owner: str, request: Request[Any, Any, Any]
) -> Response[bytes]:
    """Search items under a namespace prefix."""
    return await _forward(ctx, request, owner, "POST", "/store/items/search")


@post("/store/namespaces", status_code=200, tags=["Store"])
async def list_namespaces(
    ctx: ApiContext, owner: str, request: Request[Any, Any, Any]
) -> Response[bytes]:
    """List namespaces."""
    return await _forward(ctx, request, owner, "POST", "/store/namespaces")


@post("/memories/extract", status_code=200, tags=["Memory"])
async def extract_memories(
    ctx: ApiContext, owner: str, request: Request[Any, Any, Any]
) -> Response[bytes]:
    """Extract durable facts from a conversation and save them (``user_id``, ``conversation``)."""
    return await _forward(ctx, request, owner, "POST", "/memories/extract")


@get("/memories/relevant", tags=["Memory"])
async def relevant_memories(
    ctx: ApiContext, owner: str, request: Request[Any, Any, Any]
) -> Response[bytes]:
    """A user's memories ranked by relevance to ``prompt`` (``user_id``, ``prompt``, ``limit``)."""
    return await _forward(ctx, request, owner, "GET", "/memories/relevant")


ROUTES = [
    put_item,
    get_item,
    delete_item,
    search_items,
    list_namespaces,
    extract_memories,
    relevant_memories,
]

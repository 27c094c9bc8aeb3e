"""``/store/…``: the LangGraph Store API, plus ``POST /store/batch`` for workers' graphs.

The caller's identity arrives from the API (or a worker) in ``x-headwater-owner``: the memory
service is internal to the cluster, and every namespace is scoped under that owner.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, get, post, put
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.params import FromQuery, JSONBody

from headwater.common.memory_contract import (
    OWNER_HEADER,
    Batch,
    DeleteItem,
    GetItem,
    ListNamespaces,
    PutItem,
    SearchItems,
)
from headwater.memory.errors import InvalidRequest
from headwater.memory.service import StoreService


def owner_of(request: Request[Any, Any, Any]) -> str:
    """Who the API (or worker) says is asking."""
    return request.headers.get(OWNER_HEADER, "")


def _service(state: State) -> StoreService:
    service: StoreService = state.service
    return service


@put("/store/items", status_code=204)
async def put_item(state: State, request: Request[Any, Any, Any], data: JSONBody[PutItem]) -> None:
    """Store an item (``ttl`` in minutes; ``index`` false or field paths)."""
    await _service(state).execute(owner_of(request), [data])


@get("/store/items")
async def get_item(
    state: State,
    request: Request[Any, Any, Any],
    namespace: FromQuery[str] = "",
    key: FromQuery[str] = "",
    refresh_ttl: FromQuery[bool | None] = None,
) -> Response[Any]:
    """One item (``namespace`` dot-joined), or ``null``."""
    if not key:
        return Response({"detail": "Key is required"}, status_code=400)
    labels = namespace.split(".") if namespace else []
    op = GetItem(namespace=labels, key=key, refresh_ttl=refresh_ttl)
    return Response((await _service(state).execute(owner_of(request), [op]))[0])


@delete("/store/items", status_code=204)
async def delete_item(state: State, request: Request[Any, Any, Any]) -> None:
    """Delete an item (JSON body ``{"namespace", "key"}``)."""
    try:
        data = msgspec.json.decode(await request.body(), type=DeleteItem)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"Invalid body: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise HTTPException(status_code=400, detail=f"JSON is malformed: {exc}") from exc
    await _service(state).execute(owner_of(request), [data])


@post("/store/items/search", status_code=200)
async def search_items(
    state: State, request: Request[Any, Any, Any], data: JSONBody[SearchItems]
) -> dict[str, Any]:
    """Items under a namespace prefix, filtered on value fields, ranked by ``query``."""
    return {"items": (await _service(state).execute(owner_of(request), [data]))[0]}


@post("/store/namespaces", status_code=200)
async def list_namespaces(
    state: State, request: Request[Any, Any, Any], data: JSONBody[ListNamespaces]
) -> dict[str, Any]:
    """Namespaces the caller has, by prefix, suffix and depth."""
    return {"namespaces": (await _service(state).execute(owner_of(request), [data]))[0]}


@post("/store/batch", status_code=200, include_in_schema=False)
async def batch(
    state: State, request: Request[Any, Any, Any], data: JSONBody[Batch]
) -> dict[str, Any]:
    """The ops of one LangGraph ``abatch`` (``{"ops": [{"op": "get", …}, …]}``), answered in
    order: an item or null, a list of items, a list of namespaces, or null for writes."""
    return {"results": await _service(state).execute(owner_of(request), data.ops)}


ROUTES = [put_item, get_item, delete_item, search_items, list_namespaces, batch]

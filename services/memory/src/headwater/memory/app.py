"""The memory service: the LangGraph Store API (``/store/…``) over the official store.

The caller's identity arrives from the API in ``x-headwater-owner`` (the memory service is
internal to the cluster); every namespace is scoped under it, so no user reads another's items.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from langgraph.store.base import BaseStore, Item
from litestar import Litestar, Request, Response, delete, get, post, put
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from headwater.common.settings import Settings
from headwater.memory.store import open_store, owned, unowned

OWNER_HEADER = "x-headwater-owner"


class PutItem(msgspec.Struct, kw_only=True):
    namespace: list[str]
    key: str
    value: dict[str, Any]
    index: Any = None
    ttl: float | None = None


class DeleteItem(msgspec.Struct, kw_only=True):
    namespace: list[str]
    key: str


class SearchItems(msgspec.Struct, kw_only=True):
    namespace_prefix: list[str] = msgspec.field(default_factory=list)
    filter: dict[str, Any] | None = None
    limit: int = 10
    offset: int = 0
    query: str | None = None


class ListNamespaces(msgspec.Struct, kw_only=True):
    prefix: list[str] | None = None
    suffix: list[str] | None = None
    max_depth: int | None = None
    limit: int = 100
    offset: int = 0


def _owner(request: Request[Any, Any, Any]) -> str:
    return request.headers.get(OWNER_HEADER, "")


def _check(namespace: list[str]) -> None:
    for label in namespace:
        if not label or "." in label:
            detail = f"Namespace labels must be non-empty and contain no '.': {namespace}"
            raise HTTPException(status_code=422, detail=detail)


def _item(item: Item, score: float | None = None, scored: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "namespace": unowned(item.namespace),
        "key": item.key,
        "value": item.value,
        "created_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
    }
    if scored:
        out["score"] = score
    return out


@put("/store/items", status_code=204)
async def put_item(state: State, request: Request[Any, Any, Any], data: PutItem) -> None:
    """Store an item."""
    _check(data.namespace)
    store: BaseStore = state.store
    await store.aput(owned(_owner(request), tuple(data.namespace)), data.key, data.value)


@get("/store/items")
async def get_item(
    state: State, request: Request[Any, Any, Any], namespace: str = "", key: str = ""
) -> Response[Any]:
    """One item, or ``null``."""
    if not key:
        return Response({"detail": "Key is required"}, status_code=400)
    labels = [p for p in namespace.split(".") if p] if namespace else []
    item = await state.store.aget(owned(_owner(request), tuple(labels)), key)
    return Response(_item(item) if item is not None else None)


@delete("/store/items", status_code=204)
async def delete_item(state: State, request: Request[Any, Any, Any]) -> None:
    """Delete an item (JSON body ``{"namespace", "key"}``)."""
    try:
        data = msgspec.json.decode(await request.body(), type=DeleteItem)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise HTTPException(status_code=422, detail=f"Invalid body: {exc}") from exc
    await state.store.adelete(owned(_owner(request), tuple(data.namespace)), data.key)


@post("/store/items/search", status_code=200)
async def search_items(
    state: State, request: Request[Any, Any, Any], data: SearchItems
) -> dict[str, Any]:
    """Items under a namespace prefix, filtered on value fields."""
    items = await state.store.asearch(
        owned(_owner(request), tuple(data.namespace_prefix)),
        filter=data.filter,
        limit=data.limit,
        offset=data.offset,
    )
    return {"items": [_item(i, getattr(i, "score", None), scored=True) for i in items]}


@post("/store/namespaces", status_code=200)
async def list_namespaces(
    state: State, request: Request[Any, Any, Any], data: ListNamespaces
) -> dict[str, Any]:
    """Namespaces the caller has, by prefix, suffix and depth."""
    prefix = owned(_owner(request), tuple(data.prefix or ()))
    depth = data.max_depth + 1 if data.max_depth is not None else None
    found = await state.store.alist_namespaces(
        prefix=prefix,
        suffix=tuple(data.suffix) if data.suffix else None,
        max_depth=depth,
        limit=data.limit,
        offset=data.offset,
    )
    return {"namespaces": [unowned(ns) for ns in found]}


@get(["/ok", "/healthz"])
async def healthz() -> dict[str, Any]:
    """Liveness."""
    return {"ok": True}


@get("/readyz")
async def readyz(state: State) -> Response[dict[str, Any]]:
    """Readiness: the store answers."""
    try:
        await state.store.aget(("owner:", "__readyz__"), "probe")
    except Exception:  # noqa: BLE001 - any failure means not ready
        return Response(
            {"status": "unavailable", "checks": {"store": "unavailable"}}, status_code=503
        )
    return Response({"status": "ok", "checks": {"store": "ok"}})


@get("/metrics", include_in_schema=False)
async def metrics() -> Response[bytes]:
    """Prometheus text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def create_app(settings: Settings, *, setup: bool = False) -> Litestar:
    """Build the memory service; ``setup`` creates the store's tables (dev, migrate)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with open_store(settings.store_dsn, setup=setup) as store:
            app.state.store = store
            yield

    return Litestar(
        route_handlers=[
            put_item,
            get_item,
            delete_item,
            search_items,
            list_namespaces,
            healthz,
            readyz,
            metrics,
        ],
        lifespan=[lifespan],
        logging_config=None,
    )

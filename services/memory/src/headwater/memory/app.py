"""The memory service: the LangGraph Store API (``/store/…``) over the official store.

The caller's identity arrives from the API in ``x-headwater-owner`` (the memory service is
internal to the cluster); every namespace is scoped under it, so no user reads another's items.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
from langgraph.store.base import BaseStore, Item
from litestar import Litestar, Request, Response, delete, get, post, put
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from headwater.common.settings import Settings
from headwater.memory.extraction import extract_facts
from headwater.memory.ranking import bm25, embedding_scores, item_text
from headwater.memory.store import open_store, owned, unowned

OWNER_HEADER = "x-headwater-owner"
MAX_CANDIDATES = 1000


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
    """Items under a namespace prefix, filtered on value fields, ranked by ``query`` if given."""
    namespace = owned(_owner(request), tuple(data.namespace_prefix))
    return {
        "items": await ranked_search(
            state, namespace, data.filter, data.query, data.limit, data.offset
        )
    }


async def ranked_search(
    state: State,
    namespace: tuple[str, ...],
    filter: dict[str, Any] | None,
    query: str | None,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    """Without a query: the store's order. With one: BM25, or embeddings when configured."""
    store: BaseStore = state.store
    if not query:
        items = await store.asearch(namespace, filter=filter, limit=limit, offset=offset)
        return [_item(i, None, scored=True) for i in items]
    candidates = await store.asearch(namespace, filter=filter, limit=MAX_CANDIDATES)
    texts = [item_text(i.value) for i in candidates]
    if state.embeddings is not None:
        scores = await embedding_scores(
            state.embeddings, state.settings.embeddings_model, query, texts
        )
    else:
        scores = bm25(query, texts)
    ranked = sorted(zip(candidates, scores, strict=True), key=lambda pair: pair[1], reverse=True)
    return [_item(i, s, scored=True) for i, s in ranked[offset : offset + limit]]


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


class Extract(msgspec.Struct, kw_only=True):
    user_id: str
    conversation: list[dict[str, Any]]


@post("/memories/extract", status_code=200)
async def extract(state: State, request: Request[Any, Any, Any], data: Extract) -> dict[str, Any]:
    """Ask the LLM for durable facts in a conversation and save them under the user."""
    if not data.user_id or not data.conversation:
        raise HTTPException(
            status_code=400, detail="user_id and a non-empty conversation are required"
        )
    if state.llm is None:
        raise HTTPException(status_code=503, detail="no LLM configured (HEADWATER_LLM_BASE_URL)")
    facts = await extract_facts(state.llm, state.settings.llm_model, data.conversation)
    namespace = owned(_owner(request), ("memories", data.user_id))
    saved = []
    for fact in facts:
        key = str(uuid.uuid5(uuid.NAMESPACE_URL, fact))
        await state.store.aput(namespace, key, {"text": fact})
        saved.append({"key": key, "text": fact})
    return {"memories_saved": len(saved), "memories": saved}


@get("/memories/relevant")
async def relevant(
    state: State, request: Request[Any, Any, Any], user_id: str, prompt: str, limit: int = 5
) -> dict[str, Any]:
    """The user's memories most relevant to ``prompt``, best first."""
    if not prompt.strip() or not 1 <= limit <= 100:
        raise HTTPException(status_code=400, detail="a prompt and 1 <= limit <= 100 are required")
    items = await ranked_search(
        state, owned(_owner(request), ("memories", user_id)), None, prompt, limit, 0
    )
    return {
        "memories": [
            {"key": i["key"], "text": i["value"].get("text"), "score": i["score"]} for i in items
        ]
    }


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
        async with contextlib.AsyncExitStack() as stack:
            app.state.store = await stack.enter_async_context(
                open_store(settings.store_dsn, setup=setup)
            )
            app.state.settings = settings
            app.state.llm = None
            app.state.embeddings = None
            if settings.llm_base_url:
                app.state.llm = await stack.enter_async_context(
                    httpx.AsyncClient(base_url=settings.llm_base_url, timeout=60)
                )
            if settings.embeddings_base_url:
                app.state.embeddings = await stack.enter_async_context(
                    httpx.AsyncClient(base_url=settings.embeddings_base_url, timeout=30)
                )
            yield

    return Litestar(
        route_handlers=[
            put_item,
            get_item,
            delete_item,
            search_items,
            list_namespaces,
            extract,
            relevant,
            healthz,
            readyz,
            metrics,
        ],
        lifespan=[lifespan],
        logging_config=None,
    )

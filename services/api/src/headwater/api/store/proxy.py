"""``/store/…`` on the API: authorized, then forwarded to the memory service with the caller's identity.

The client's own ``x-headwater-owner`` header is never forwarded: the API sets it. With LangGraph
custom auth, the ``@auth.on.store`` handlers see langgraph-api's values (``StorePut``,
``StoreGet``, ``StoreSearch``, ``StoreListNamespaces``, ``StoreDelete``) before the request is
forwarded: they may refuse it (``False`` or a failed ``assert`` → 403), rewrite
``value["namespace"]`` (the forwarded request uses the rewritten one) and, for ``search``, return
a filter that is AND-ed into the caller's. Each forward is a CLIENT span that carries the W3C
``traceparent``, so the memory service's server span joins the caller's trace.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import msgspec
from litestar import Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from opentelemetry.trace import SpanKind, Status, StatusCode

from headwater.api.auth.authorization import AuthHandlers, authorize
from headwater.api.shared.errors import ApiError, Unavailable, Unprocessable
from headwater.common.memory_contract import OWNER_HEADER, service_headers
from headwater.common.settings import Settings
from headwater.common.telemetry.tracing import inject_headers, tracer


async def _forward(
    memory: httpx.AsyncClient | None,
    settings: Settings,
    owner: str,
    method: str,
    path: str,
    *,
    content: bytes | None = None,
    params: dict[str, str] | None = None,
) -> Response[bytes]:
    if memory is None:
        raise Unavailable("The memory service is not configured (HEADWATER_MEMORY_URL)")
    attributes = {
        "http.request.method": method,
        "url.path": path,
        "server.address": memory.base_url.host,
    }
    with tracer().start_as_current_span(
        f"{method} {path}", kind=SpanKind.CLIENT, attributes=attributes
    ) as span:
        headers = inject_headers(
            {
                "content-type": "application/json",
                OWNER_HEADER: owner,
                **service_headers(settings.service_token),
            }
        )
        try:
            answer = await memory.request(
                method, path, content=content, params=params, headers=headers
            )
        except httpx.HTTPError as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise Unavailable(f"The memory service did not answer: {type(exc).__name__}") from exc
        span.set_attribute("http.response.status_code", answer.status_code)
    return Response(
        answer.content,
        status_code=answer.status_code,
        media_type=answer.headers.get("content-type", "application/json"),
    )


def _object(raw: bytes) -> dict[str, Any]:
    try:
        body = msgspec.json.decode(raw or b"{}")
    except msgspec.DecodeError as exc:
        raise Unprocessable(f"Invalid JSON body: {exc}") from exc
    if not isinstance(body, dict):
        raise Unprocessable("The request body must be a JSON object")
    return body


def _labels(value: Any, what: str) -> tuple[str, ...]:
    """A namespace from the client: a list of strings (422 otherwise)."""
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise Unprocessable(f"{what} must be a list of strings")
    return tuple(value)


def _rewritten(value: Any) -> list[str]:
    """The namespace an auth handler left in ``value`` (a handler bug otherwise: 500)."""
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ApiError("the store auth handler set a namespace that is not a list", 500)
    if not all(isinstance(v, str) for v in value):
        raise ApiError("the store auth handler set a namespace with non-string labels", 500)
    return list(value)


def _encode(body: dict[str, Any]) -> bytes:
    return msgspec.json.encode(body)


@put("/store/items", status_code=200, tags=["Store"])
async def put_item(
    memory: NamedDependency[httpx.AsyncClient | None],
    settings: NamedDependency[Settings],
    auth: NamedDependency[AuthHandlers],
    owner: NamedDependency[str],
    request: Request[Any, Any, Any],
) -> Response[bytes]:
    """Store an item (``namespace``, ``key``, ``value``, ``index``, ``ttl`` in minutes)."""
    raw = await request.body()
    if auth.custom_auth is None:
        return await _forward(memory, settings, owner, "PUT", "/store/items", content=raw)
    body = _object(raw)
    value = {
        "namespace": _labels(body.get("namespace"), "namespace"),
        "key": body.get("key"),
        "value": body.get("value"),
        "index": body.get("index"),
    }
    await authorize(auth, "store", "put", value)
    body.update(value, namespace=_rewritten(value["namespace"]))
    return await _forward(memory, settings, owner, "PUT", "/store/items", content=_encode(body))


@get("/store/items", tags=["Store"])
async def get_item(
    memory: NamedDependency[httpx.AsyncClient | None],
    settings: NamedDependency[Settings],
    auth: NamedDependency[AuthHandlers],
    owner: NamedDependency[str],
    request: Request[Any, Any, Any],
) -> Response[bytes]:
    """One item (``namespace`` dot-joined, ``key``, ``refresh_ttl``), or null."""
    params = dict(request.query_params)
    if auth.custom_auth is not None:
        namespace = params.get("namespace", "")
        value = {
            "namespace": tuple(namespace.split(".")) if namespace else (),
            "key": params.get("key", ""),
        }
        await authorize(auth, "store", "get", value)
        params["namespace"] = ".".join(_rewritten(value["namespace"]))
        params["key"] = str(value["key"])
    return await _forward(memory, settings, owner, "GET", "/store/items", params=params)


@delete("/store/items", status_code=200, tags=["Store"])
async def delete_item(
    memory: NamedDependency[httpx.AsyncClient | None],
    settings: NamedDependency[Settings],
    auth: NamedDependency[AuthHandlers],
    owner: NamedDependency[str],
    request: Request[Any, Any, Any],
) -> Response[bytes]:
    """Delete an item (JSON body ``{"namespace", "key"}``)."""
    raw = await request.body()
    if auth.custom_auth is None:
        return await _forward(memory, settings, owner, "DELETE", "/store/items", content=raw)
    body = _object(raw)
    value = {"namespace": _labels(body.get("namespace"), "namespace"), "key": body.get("key")}
    await authorize(auth, "store", "delete", value)
    body.update(value, namespace=_rewritten(value["namespace"]))
    return await _forward(memory, settings, owner, "DELETE", "/store/items", content=_encode(body))


@post("/store/items/search", status_code=200, tags=["Store"])
async def search_items(
    memory: NamedDependency[httpx.AsyncClient | None],
    settings: NamedDependency[Settings],
    auth: NamedDependency[AuthHandlers],
    owner: NamedDependency[str],
    request: Request[Any, Any, Any],
) -> Response[bytes]:
    """Search items under a namespace prefix (``filter``, ``query``, ``limit``, ``offset``)."""
    raw = await request.body()
    if auth.custom_auth is None:
        return await _forward(memory, settings, owner, "POST", "/store/items/search", content=raw)
    body = _object(raw)
    value = {
        "namespace": _labels(body.get("namespace_prefix", []), "namespace_prefix"),
        "filter": body.get("filter"),
        "limit": body.get("limit", 10),
        "offset": body.get("offset", 0),
        "query": body.get("query"),
    }
    rule = await authorize(auth, "store", "search", value)
    wanted = value.pop("filter")
    if rule:
        wanted = {"$and": [wanted, rule]} if wanted else rule
    namespace = _rewritten(value.pop("namespace"))
    body.update(value, namespace_prefix=namespace, filter=wanted)
    return await _forward(
        memory, settings, owner, "POST", "/store/items/search", content=_encode(body)
    )


@post("/store/namespaces", status_code=200, tags=["Store"])
async def list_namespaces(
    memory: NamedDependency[httpx.AsyncClient | None],
    settings: NamedDependency[Settings],
    auth: NamedDependency[AuthHandlers],
    owner: NamedDependency[str],
    request: Request[Any, Any, Any],
) -> Response[bytes]:
    """List namespaces (``prefix``, ``suffix``, ``max_depth``, ``limit``, ``offset``)."""
    raw = await request.body()
    if auth.custom_auth is None:
        return await _forward(memory, settings, owner, "POST", "/store/namespaces", content=raw)
    body = _object(raw)
    prefix, suffix = body.get("prefix"), body.get("suffix")
    value = {
        "namespace": None if prefix is None else _labels(prefix, "prefix"),
        "suffix": None if suffix is None else _labels(suffix, "suffix"),
        "max_depth": body.get("max_depth"),
        "limit": body.get("limit", 100),
        "offset": body.get("offset", 0),
    }
    await authorize(auth, "store", "list_namespaces", value)
    namespace, suffix = value.pop("namespace"), value.pop("suffix")
    body.update(
        value,
        prefix=None if namespace is None else _rewritten(namespace),
        suffix=None if suffix is None else _rewritten(suffix),
    )
    return await _forward(
        memory, settings, owner, "POST", "/store/namespaces", content=_encode(body)
    )


@post("/memories/extract", status_code=200, tags=["Memory"])
async def extract_memories(
    memory: NamedDependency[httpx.AsyncClient | None],
    settings: NamedDependency[Settings],
    auth: NamedDependency[AuthHandlers],
    owner: NamedDependency[str],
    request: Request[Any, Any, Any],
) -> Response[bytes]:
    """Extract durable facts from a conversation and save them (``user_id``, ``conversation``)."""
    content = await request.body()
    return await _forward(memory, settings, owner, "POST", "/memories/extract", content=content)


@get("/memories/relevant", tags=["Memory"])
async def relevant_memories(
    memory: NamedDependency[httpx.AsyncClient | None],
    settings: NamedDependency[Settings],
    auth: NamedDependency[AuthHandlers],
    owner: NamedDependency[str],
    request: Request[Any, Any, Any],
) -> Response[bytes]:
    """A user's memories ranked by relevance to ``prompt`` (``user_id``, ``prompt``, ``limit``)."""
    params = dict(request.query_params)
    return await _forward(memory, settings, owner, "GET", "/memories/relevant", params=params)


ROUTES = [
    put_item,
    get_item,
    delete_item,
    search_items,
    list_namespaces,
    extract_memories,
    relevant_memories,
]

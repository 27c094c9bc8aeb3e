"""The store graphs get: LangGraph's ``BaseStore``, backed by the memory service over HTTP.

Every operation is scoped to the owner of the run being executed (a context variable the
executor sets), so a graph reads and writes only its user's long-term memory. Each LangGraph
batch is one ``POST /store/batch`` (a CLIENT span carrying the W3C ``traceparent``). Defaults
are the memory service's: a ``ttl`` or ``refresh_ttl`` the graph does not give is not sent, so
langgraph.json's ``store.ttl`` applies there, in one place.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, Literal, cast

import httpx
import msgspec
from langgraph.store.base import (
    NOT_PROVIDED,
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    NotProvided,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)
from opentelemetry.trace import SpanKind, Status, StatusCode

from headwater.common.memory_contract import (
    BATCH_PATH,
    OWNER_HEADER,
    Batch,
    DeleteItem,
    GetItem,
    ListNamespaces,
    PutItem,
    SearchItems,
    StoreRequest,
    service_headers,
)
from headwater.common.telemetry.tracing import inject_headers, tracer

STORE_OWNER: contextvars.ContextVar[str] = contextvars.ContextVar(
    "headwater_store_owner", default=""
)


class MemoryServiceError(RuntimeError):
    """The memory service did not answer, or failed (``status`` 0 when unreachable)."""

    def __init__(self, detail: str, status: int = 0) -> None:
        super().__init__(detail)
        self.status = status


class StoreRequestRejected(MemoryServiceError, ValueError):
    """The memory service refused an operation (4xx): bad namespace, ttl, filter…"""


def _time(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def encode_op(op: Op) -> StoreRequest:
    """One LangGraph op as the batch endpoint takes it (defaults the graph left unset are
    left to the memory service)."""
    if isinstance(op, GetOp):
        return GetItem(namespace=list(op.namespace), key=op.key, refresh_ttl=op.refresh_ttl)
    if isinstance(op, PutOp):
        if op.value is None:
            return DeleteItem(namespace=list(op.namespace), key=op.key)
        return PutItem(
            namespace=list(op.namespace),
            key=op.key,
            value=dict(op.value),
            index=cast("bool | list[str] | None", op.index),
            ttl=msgspec.UNSET if isinstance(op.ttl, NotProvided) else op.ttl,
        )
    if isinstance(op, SearchOp):
        return SearchItems(
            namespace_prefix=list(op.namespace_prefix),
            filter=op.filter,
            limit=op.limit,
            offset=op.offset,
            query=op.query,
            refresh_ttl=op.refresh_ttl,
        )
    if isinstance(op, ListNamespacesOp):
        conditions = op.match_conditions or ()
        return ListNamespaces(
            prefix=next((list(c.path) for c in conditions if c.match_type == "prefix"), None),
            suffix=next((list(c.path) for c in conditions if c.match_type == "suffix"), None),
            max_depth=op.max_depth,
            limit=op.limit,
            offset=op.offset,
        )
    raise TypeError(f"unknown store operation {type(op).__name__}")


def decode_result(op: Op, result: Any) -> Result:
    """The batch endpoint's answer to ``op`` as LangGraph types."""
    if isinstance(op, GetOp):
        if result is None:
            return None
        return Item(
            value=result["value"],
            key=result["key"],
            namespace=tuple(result["namespace"]),
            created_at=_time(result["created_at"]),
            updated_at=_time(result["updated_at"]),
        )
    if isinstance(op, SearchOp):
        return [
            SearchItem(
                tuple(i["namespace"]),
                i["key"],
                i["value"],
                _time(i["created_at"]),
                _time(i["updated_at"]),
                i.get("score"),
            )
            for i in result
        ]
    if isinstance(op, ListNamespacesOp):
        return [tuple(n) for n in result]
    return None


class MemoryServiceStore(BaseStore):
    """A ``BaseStore`` whose batches are calls to the memory service."""

    supports_ttl = True

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
        service_token: str = "",
    ) -> None:
        self.http = client or httpx.AsyncClient(base_url=base_url, timeout=timeout)
        self.http.headers.update(service_headers(service_token))  # the memory service's trust
        self.loop = asyncio.get_running_loop()

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Synchronous nodes run in threads: hand the call to the event loop."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            raise asyncio.InvalidStateError(
                "synchronous store calls from the event loop would block it: use the async ones"
            )
        return asyncio.run_coroutine_threadsafe(self.abatch(ops), self.loop).result()

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """All ``ops`` in one HTTP call; results in order."""
        ops = list(ops)
        if not ops:
            return []
        body = msgspec.json.encode(Batch(ops=[encode_op(op) for op in ops]))
        attributes: dict[str, str | int] = {
            "http.request.method": "POST",
            "url.path": BATCH_PATH,
            "server.address": self.http.base_url.host,
            "headwater.store.ops": len(ops),
        }
        with tracer().start_as_current_span(
            f"POST {BATCH_PATH}", kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            headers = inject_headers(
                {OWNER_HEADER: STORE_OWNER.get(), "content-type": "application/json"}
            )
            try:
                answer = await self.http.post(BATCH_PATH, content=body, headers=headers)
            except httpx.HTTPError as exc:
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise MemoryServiceError(
                    f"the memory service did not answer: {type(exc).__name__}"
                ) from exc
            span.set_attribute("http.response.status_code", answer.status_code)
            if answer.status_code >= 400:
                span.set_status(Status(StatusCode.ERROR, str(answer.status_code)))
                detail = _detail(answer)
                error = StoreRequestRejected if answer.status_code < 500 else MemoryServiceError
                raise error(
                    f"the memory service answered {answer.status_code}: {detail}",
                    answer.status_code,
                )
        results = answer.json()["results"]
        return [decode_result(op, r) for op, r in zip(ops, results, strict=True)]

    # Defaults the memory service resolves: left unset here rather than filled in.
    async def aget(
        self, namespace: tuple[str, ...], key: str, *, refresh_ttl: bool | None = None
    ) -> Item | None:
        """One item, or None."""
        return cast(Item | None, (await self.abatch([_get(namespace, key, refresh_ttl)]))[0])

    def get(
        self, namespace: tuple[str, ...], key: str, *, refresh_ttl: bool | None = None
    ) -> Item | None:
        """One item, or None."""
        return cast(Item | None, self.batch([_get(namespace, key, refresh_ttl)])[0])

    async def aput(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: Mapping[str, Any],
        index: Literal[False] | list[str] | None = None,
        *,
        ttl: float | NotProvided | None = NOT_PROVIDED,
    ) -> None:
        """Store an item (``ttl`` not given: the store's default)."""
        await self.abatch([PutOp(namespace, str(key), value, index, ttl)])  # type: ignore[arg-type]

    def put(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: Mapping[str, Any],
        index: Literal[False] | list[str] | None = None,
        *,
        ttl: float | NotProvided | None = NOT_PROVIDED,
    ) -> None:
        """Store an item (``ttl`` not given: the store's default)."""
        self.batch([PutOp(namespace, str(key), value, index, ttl)])  # type: ignore[arg-type]

    async def asearch(
        self,
        namespace_prefix: tuple[str, ...],
        /,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool | None = None,
    ) -> list[SearchItem]:
        """Items under a prefix, ranked by ``query``."""
        op = SearchOp(namespace_prefix, filter, limit, offset, query, refresh_ttl)  # type: ignore[arg-type]
        return cast(list[SearchItem], (await self.abatch([op]))[0])

    def search(
        self,
        namespace_prefix: tuple[str, ...],
        /,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool | None = None,
    ) -> list[SearchItem]:
        """Items under a prefix, ranked by ``query``."""
        op = SearchOp(namespace_prefix, filter, limit, offset, query, refresh_ttl)  # type: ignore[arg-type]
        return cast(list[SearchItem], self.batch([op])[0])


def _get(namespace: tuple[str, ...], key: str, refresh_ttl: bool | None) -> GetOp:
    return GetOp(namespace, str(key), refresh_ttl)  # type: ignore[arg-type]


def _detail(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:200]
    return str(body.get("detail", body)) if isinstance(body, dict) else str(body)[:200]

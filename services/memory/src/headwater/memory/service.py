"""Store operations for one owner: validation, TTL defaults, scoping, and batches.

A batch runs as the official stores run one: every read (get, search, list_namespaces) sees
the state before the batch's writes, then the writes apply (the last write of a key wins).
Results come back in the order of the ops, as JSON-ready values.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any, Literal

import msgspec
from langgraph.store.base import (
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchItem,
    SearchOp,
)

from headwater.common.memory_contract import (
    DeleteItem,
    GetItem,
    ListNamespaces,
    PutItem,
    SearchItems,
    StoreRequest,
)
from headwater.memory.errors import InvalidRequest
from headwater.memory.options import StoreOptions
from headwater.memory.storable import NUL, check_json, check_text
from headwater.memory.store import StoreBackend, owned, unowned

MAX_TTL_MINUTES = 60.0 * 24 * 365 * 100


def check_namespace(namespace: Sequence[Any], *, what: str = "namespace") -> None:
    """422 unless every label is a non-empty string without ``.`` or NUL."""
    for label in namespace:
        if not isinstance(label, str) or not label or "." in label or NUL in label:
            raise InvalidRequest(
                f"{what} labels must be non-empty strings without '.' or NUL: {list(namespace)}"
            )


def _timestamp(value: dt.datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()


def item_json(item: Item) -> dict[str, Any]:
    """An item as the LangGraph API answers it (a search result also carries ``score``)."""
    out: dict[str, Any] = {
        "namespace": unowned(item.namespace),
        "key": item.key,
        "value": item.value,
        "created_at": _timestamp(item.created_at),
        "updated_at": _timestamp(item.updated_at),
    }
    if isinstance(item, SearchItem):
        out["score"] = item.score
    return out


class StoreService:
    """The store API's operations over a :class:`StoreBackend`."""

    def __init__(self, backend: StoreBackend, options: StoreOptions) -> None:
        self.backend = backend
        self.options = options

    async def execute(self, owner: str, requests: Sequence[StoreRequest]) -> list[Any]:
        """Run ``requests`` for ``owner``; one result per request, in order."""
        ops = [self._op(owner, r) for r in requests]
        results: list[Any] = [None] * len(ops)
        reads = [(i, op) for i, op in enumerate(ops) if isinstance(op, GetOp | ListNamespacesOp)]
        if reads:
            found = await self.backend.read([op for _, op in reads])
            for (i, read), result in zip(reads, found, strict=True):
                if isinstance(read, GetOp):
                    results[i] = item_json(result) if isinstance(result, Item) else None
                elif isinstance(result, list):
                    results[i] = [unowned(ns) for ns in result if isinstance(ns, tuple)]
        for i, op in enumerate(ops):
            if isinstance(op, SearchOp):
                results[i] = [item_json(item) for item in await self.backend.search(op)]
        writes = [op for op in ops if isinstance(op, PutOp)]
        if writes:
            await self.backend.write(writes)
        return results

    def _op(self, owner: str, request: StoreRequest) -> GetOp | PutOp | SearchOp | ListNamespacesOp:
        if isinstance(request, GetItem):
            check_namespace(request.namespace)
            check_text(request.key, "key")
            return GetOp(owned(owner, request.namespace), request.key, self._refresh(request))
        if isinstance(request, PutItem):
            return self._put(owner, request)
        if isinstance(request, DeleteItem):
            check_namespace(request.namespace)
            check_text(request.key, "key")
            return PutOp(owned(owner, request.namespace), request.key, None)
        if isinstance(request, SearchItems):
            check_namespace(request.namespace_prefix, what="namespace_prefix")
            check_json(request.filter, "filter")
            return SearchOp(
                owned(owner, request.namespace_prefix),
                request.filter,
                request.limit,
                request.offset,
                request.query or None,
                self._refresh(request),
            )
        return self._list(owner, request)

    def _refresh(self, request: GetItem | SearchItems) -> bool:
        if request.refresh_ttl is None:
            return self.options.refresh_on_read
        return request.refresh_ttl

    def _put(self, owner: str, request: PutItem) -> PutOp:
        if not request.namespace:
            raise InvalidRequest("namespace must not be empty")
        check_namespace(request.namespace)
        if request.namespace[0] == "langgraph":
            raise InvalidRequest('the root label of a namespace cannot be "langgraph"')
        check_text(request.key, "key")
        check_json(request.value, "value")
        if request.index is True:
            raise InvalidRequest("index must be false, a list of field paths, or null")
        if isinstance(request.index, list):
            if not all(request.index):
                raise InvalidRequest("index paths must be non-empty")
            for path in request.index:
                check_text(path, "index paths")
        ttl = self.options.default_ttl if request.ttl is msgspec.UNSET else request.ttl
        if ttl is not None:
            if not (0 < ttl <= MAX_TTL_MINUTES) or math.isnan(ttl):
                raise InvalidRequest(
                    f"ttl must be a positive number of minutes (at most {MAX_TTL_MINUTES:.0f})"
                )
            ttl = self.backend.ttl_minutes(ttl)
        index: Literal[False] | list[str] | None = False
        if request.index is None or isinstance(request.index, list):
            index = request.index
        return PutOp(owned(owner, request.namespace), request.key, request.value, index, ttl=ttl)

    def _list(self, owner: str, request: ListNamespaces) -> ListNamespacesOp:
        prefix, suffix = request.prefix or [], request.suffix or []
        check_namespace([p for p in prefix if p != "*"], what="prefix")
        check_namespace([s for s in suffix if s != "*"], what="suffix")
        conditions = [MatchCondition("prefix", owned(owner, prefix))]
        if suffix:
            conditions.append(MatchCondition("suffix", tuple(suffix)))
        depth = request.max_depth + 1 if request.max_depth is not None else None
        return ListNamespacesOp(tuple(conditions), depth, request.limit, request.offset)

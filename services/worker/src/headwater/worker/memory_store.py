"""The store graphs get: LangGraph's ``BaseStore``, backed by the memory service over HTTP.

Every operation is scoped to the owner of the run being executed (a context variable the
executor sets), so a graph reads and writes only its user's long-term memory.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
from collections.abc import Iterable
from typing import Any

import httpx
from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)

STORE_OWNER: contextvars.ContextVar[str] = contextvars.ContextVar(
    "headwater_store_owner", default=""
)
OWNER_HEADER = "x-headwater-owner"


def _time(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class MemoryServiceStore(BaseStore):
    """A ``BaseStore`` whose operations are calls to the memory service."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=timeout)
        self.loop = asyncio.get_running_loop()

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Synchronous nodes run in threads: hand the calls to the event loop."""
        return asyncio.run_coroutine_threadsafe(self.abatch(ops), self.loop).result()

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        headers = {OWNER_HEADER: STORE_OWNER.get()}
        return [await self._one(op, headers) for op in ops]

    async def _one(self, op: Op, headers: dict[str, str]) -> Result:
        if isinstance(op, GetOp):
            answer = await self.http.get(
                "/store/items",
                params={"namespace": ".".join(op.namespace), "key": op.key},
                headers=headers,
            )
            answer.raise_for_status()
            body = answer.json()
            return (
                None
                if body is None
                else Item(
                    value=body["value"],
                    key=body["key"],
                    namespace=tuple(body["namespace"]),
                    created_at=_time(body["created_at"]),
                    updated_at=_time(body["updated_at"]),
                )
            )
        if isinstance(op, PutOp):
            target = {"namespace": list(op.namespace), "key": op.key}
            if op.value is None:
                answer = await self.http.request(
                    "DELETE", "/store/items", json=target, headers=headers
                )
            else:
                answer = await self.http.put(
                    "/store/items", json={**target, "value": dict(op.value)}, headers=headers
                )
            answer.raise_for_status()
            return None
        if isinstance(op, SearchOp):
            body = {
                "namespace_prefix": list(op.namespace_prefix),
                "filter": op.filter,
                "limit": op.limit,
                "offset": op.offset,
                "query": op.query,
            }
            answer = await self.http.post("/store/items/search", json=body, headers=headers)
            answer.raise_for_status()
            return [
                SearchItem(
                    tuple(i["namespace"]),
                    i["key"],
                    i["value"],
                    _time(i["created_at"]),
                    _time(i["updated_at"]),
                    i.get("score"),
                )
                for i in answer.json()["items"]
            ]
        if isinstance(op, ListNamespacesOp):
            prefix = next(
                (list(c.path) for c in op.match_conditions or () if c.match_type == "prefix"), None
            )
            suffix = next(
                (list(c.path) for c in op.match_conditions or () if c.match_type == "suffix"), None
            )
            listing: dict[str, Any] = {
                "prefix": prefix,
                "suffix": suffix,
                "max_depth": op.max_depth,
                "limit": op.limit,
                "offset": op.offset,
            }
            answer = await self.http.post("/store/namespaces", json=listing, headers=headers)
            answer.raise_for_status()
            return [tuple(n) for n in answer.json()["namespaces"]]
        raise TypeError(f"unknown store operation {type(op).__name__}")

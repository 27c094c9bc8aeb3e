"""The store graphs get (the worker's MemoryServiceStore): one HTTP call per LangGraph batch,
scoped to the run's owner, defaults left to the memory service, sync nodes supported."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from langgraph.store.base import GetOp, Item, ListNamespacesOp, MatchCondition, PutOp, SearchOp

from headwater.common.settings import Settings, load_settings
from headwater.memory.app import create_app
from headwater.memory.options import StoreOptions
from headwater.worker.memory_store import (
    STORE_OWNER,
    MemoryServiceStore,
    StoreRequestRejected,
)
from tests.integration.memory_support import Rows

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]


@contextlib.asynccontextmanager
async def graph_store(
    tmp_path: Path, options: StoreOptions, calls: list[httpx.Request]
) -> AsyncIterator[tuple[MemoryServiceStore, Settings]]:
    settings = load_settings(
        {"HEADWATER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/hw.sqlite"}
    )
    app = create_app(settings, setup=True, options=options)

    async def record(request: httpx.Request) -> None:
        calls.append(request)

    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://memory",
        event_hooks={"request": [record]},
    )
    async with app.lifespan():
        store = MemoryServiceStore("http://memory", client=client)
        try:
            yield store, settings
        finally:
            await store.aclose()


async def test_one_http_call_per_batch(tmp_path: Path) -> None:
    calls: list[httpx.Request] = []
    async with graph_store(tmp_path, StoreOptions(), calls) as (store, _):
        STORE_OWNER.set("alice")
        await store.aput(("notes",), "n0", {"text": "old note"})
        calls.clear()
        results = await store.abatch(
            [
                PutOp(("notes",), "n1", {"text": "buy oat milk"}),
                GetOp(("notes",), "n0"),
                SearchOp(("notes",), query="milk"),
                ListNamespacesOp(match_conditions=(MatchCondition("prefix", ("notes",)),)),
                PutOp(("notes",), "n0", None),
            ]
        )
        assert [c.url.path for c in calls] == ["/store/batch"], "the whole batch, one call"
        assert calls[0].headers["x-headwater-owner"] == "alice"
        put, got, found, spaces, deleted = results
        assert put is None and deleted is None
        assert isinstance(got, Item) and got.value == {"text": "old note"}
        assert got.namespace == ("notes",) and got.created_at.tzinfo is not None
        assert isinstance(found, list) and [i.key for i in found] == ["n0"], "before the writes"
        assert spaces == [("notes",)]
        assert await store.aget(("notes",), "n0") is None
        hits = await store.asearch(("notes",), query="oat milk")
        assert [(i.key, i.score is not None and i.score > 0) for i in hits] == [("n1", True)]
        STORE_OWNER.set("bob")
        assert await store.aget(("notes",), "n1") is None, "scoped to the run's owner"
        assert await store.abatch([]) == []


async def test_defaults_are_the_memory_services(tmp_path: Path) -> None:
    calls: list[httpx.Request] = []
    options = StoreOptions(default_ttl=7, refresh_on_read=False)
    async with graph_store(tmp_path, options, calls) as (store, settings):
        STORE_OWNER.set("carol")
        rows = Rows(settings, "carol")
        await store.aput(("n",), "default", {"v": 1})
        await store.aput(("n",), "forever", {"v": 2}, ttl=None)
        await store.aput(("n",), "short", {"v": 3}, ttl=2)
        assert rows.ttl("default")[1] == 7  # type: ignore[index]
        assert rows.ttl("forever") == (None, None) and rows.ttl("short")[1] == 2  # type: ignore[index]
        await store.aget(("n",), "default")
        assert b"refresh_ttl" not in calls[-1].content, "unset: the service's refresh_on_read"
        await store.aget(("n",), "default", refresh_ttl=True)
        assert b'"refresh_ttl":true' in calls[-1].content


async def test_sync_nodes_and_errors(tmp_path: Path) -> None:
    calls: list[httpx.Request] = []
    async with graph_store(tmp_path, StoreOptions(), calls) as (store, _):
        STORE_OWNER.set("dave")
        await asyncio.to_thread(store.put, ("n",), "k", {"text": "from a thread"})
        item = await asyncio.to_thread(store.get, ("n",), "k")
        assert item is not None and item.value == {"text": "from a thread"}
        found = await asyncio.to_thread(lambda: store.search(("n",), query="thread"))
        assert [i.key for i in found] == ["k"]
        with pytest.raises(asyncio.InvalidStateError):
            store.get(("n",), "k")
        with pytest.raises(StoreRequestRejected, match="non-empty strings") as bad:
            await store.aput(("a.b",), "k", {})
        assert bad.value.status == 422 and isinstance(bad.value, ValueError)


async def test_a_graph_remembers_through_the_service(tmp_path: Path) -> None:
    from tests.graphs.memo import builder

    calls: list[httpx.Request] = []
    async with graph_store(tmp_path, StoreOptions(), calls) as (store, _):
        STORE_OWNER.set("erin")
        graph = builder.compile(store=store)
        assert (await graph.ainvoke({"remember": "tea, no sugar"}))["answer"] == "noted"
        recalled = await graph.ainvoke({"recall": "sugar"})
        assert recalled["answer"] == "tea, no sugar" and recalled["found"] == ["fact"]
        assert all(c.url.path == "/store/batch" for c in calls)

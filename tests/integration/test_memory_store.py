"""The memory service on SQLite and on a real PostgreSQL: ranking in the database (full text and
by meaning), paging, filters, owner scoping, TTLs and the sweeper, the batch endpoint, bad input.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from headwater.memory.app import create_app
from headwater.memory.options import SemanticIndex, StoreOptions
from tests.integration.memory_support import (
    Embeddings,
    Rows,
    memory_client,
    memory_settings,
    now,
    recording_embeddings,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]
DIALECTS = ["sqlite", "postgres"]
CORPUS = {
    "city": "I live in Lyon",
    "colour": "My favourite colour is blue",
    "dog": "My dog is called Rex",
    "tea": "I prefer tea to coffee in the morning",
    "sister": "My sister lives in Lyon too",
}
SEMANTIC = StoreOptions(index=SemanticIndex("headwater-sim", 64, ("text",)))


@pytest.fixture(scope="module")
async def embeddings() -> AsyncIterator[Embeddings]:
    async with recording_embeddings() as recorder:
        yield recorder


@pytest.fixture(scope="module")
def vector_pg_url() -> Iterator[str]:
    """A database on a PostgreSQL with pgvector (the embedded one if the given server lacks it)."""
    from tests.services import create_database, drop_database

    url = create_database(pgvector=True)
    yield url
    drop_database(url)


def as_owner(owner: str) -> dict[str, str]:
    return {"x-headwater-owner": owner}


async def put_all(http: httpx.AsyncClient, owner: str, items: dict[str, str], **extra: Any) -> None:
    for key, text in items.items():
        body = {"namespace": ["facts"], "key": key, "value": {"text": text}, **extra}
        answer = await http.put("/store/items", json=body, headers=as_owner(owner))
        assert answer.status_code == 204, answer.text


async def search(http: httpx.AsyncClient, owner: str, **body: Any) -> list[dict[str, Any]]:
    answer = await http.post("/store/items/search", json=body, headers=as_owner(owner))
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    ("query", "ranked"),
    [
        ("what is my favourite colour?", ["colour"]),
        ("lyon", ["city", "sister"]),
        ("where do I live", ["city", "sister"]),
        ("coffee or tea", ["tea"]),
        ("Rex, the dog", ["dog"]),
    ],
)
async def test_full_text_ranks_in_the_database(
    dialect: str, query: str, ranked: list[str], tmp_path: Path, pg_url: str
) -> None:
    owner, stranger = uuid.uuid4().hex, uuid.uuid4().hex
    settings = memory_settings(dialect, tmp_path, pg_url)
    async with memory_client(settings, StoreOptions()) as http:
        await put_all(http, owner, CORPUS)
        await put_all(http, stranger, {"city": "Lyon Lyon Lyon", "tea": "tea coffee"})
        elsewhere = {"namespace": ["other"], "key": "x", "value": {"text": "Lyon tea Rex"}}
        await http.put("/store/items", json=elsewhere, headers=as_owner(owner))

        items = await search(http, owner, namespace_prefix=["facts"], query=query, limit=10)
        keys = [i["key"] for i in items]
        assert keys[: len(ranked)] == ranked, [(i["key"], i["score"]) for i in items]
        scores = [i["score"] for i in items]
        assert all(s > 0 for s in scores[: len(ranked)])
        assert scores[: len(ranked)] == sorted(scores[: len(ranked)], reverse=True)
        assert scores[len(ranked) :] == [0.0] * (len(CORPUS) - len(ranked)), (
            "items sharing no word come after the matches, with score 0"
        )
        assert sorted(keys) == sorted(CORPUS), "the prefix and the owner scope the search"
        assert {tuple(i["namespace"]) for i in items} == {("facts",)}


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_paging_filters_and_scope(dialect: str, tmp_path: Path, pg_url: str) -> None:
    owner = uuid.uuid4().hex
    settings = memory_settings(dialect, tmp_path, pg_url)
    async with memory_client(settings, StoreOptions()) as http:
        for i in range(12):
            value = {
                "text": " ".join(["apple"] * (i % 4 + 1)) + f" item{i}",
                "n": i,
                "kind": "odd" if i % 2 else "even",
            }
            body = {"namespace": ["fruit", f"box{i % 3}"], "key": f"k{i:02}", "value": value}
            assert (
                await http.put("/store/items", json=body, headers=as_owner(owner))
            ).status_code == 204
        await http.put(
            "/store/items",
            json={"namespace": ["fruit", "box0"], "key": "pear", "value": {"text": "pear"}},
            headers=as_owner(owner),
        )
        for query in ("apple", None):
            whole = await search(http, owner, namespace_prefix=["fruit"], query=query, limit=100)
            assert len(whole) == 13
            pages: list[dict[str, Any]] = []
            for offset in range(0, 13, 5):
                pages += await search(
                    http, owner, namespace_prefix=["fruit"], query=query, limit=5, offset=offset
                )
            assert [i["key"] for i in pages] == [i["key"] for i in whole], "pages are one order"
        ranked = await search(http, owner, namespace_prefix=["fruit"], query="apple", limit=100)
        assert ranked[-1]["key"] == "pear" and ranked[-1]["score"] == 0.0
        assert {i["key"] for i in ranked[:3]} == {"k03", "k07", "k11"}, "most apples first"
        odd = await search(
            http,
            owner,
            namespace_prefix=["fruit"],
            query="apple",
            filter={"kind": "odd"},
            limit=100,
        )
        assert {i["key"] for i in odd} == {f"k{i:02}" for i in range(1, 12, 2)}
        both = await search(
            http,
            owner,
            namespace_prefix=["fruit", "box1"],
            query="apple",
            filter={"$and": [{"kind": "odd"}, {"n": {"$gt": 4}}]},
            limit=100,
        )
        assert {i["key"] for i in both} == {"k07"}
        plain = await search(http, owner, namespace_prefix=["fruit", "box2"], limit=100)
        assert {i["key"] for i in plain} == {"k02", "k05", "k08", "k11"}
        assert all(i["score"] is None for i in plain), "no query, no score"
        assert await search(http, uuid.uuid4().hex, namespace_prefix=["fruit"]) == []


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_semantic_search_embeds_at_write_time(
    dialect: str, tmp_path: Path, vector_pg_url: str, embeddings: Embeddings
) -> None:
    owner = uuid.uuid4().hex
    settings = memory_settings(
        dialect, tmp_path, vector_pg_url, HEADWATER_EMBEDDINGS_BASE_URL=embeddings.url
    )
    rows = Rows(settings, owner)
    async with memory_client(settings, SEMANTIC) as http:
        embeddings.calls.clear()
        for key, text in CORPUS.items():
            body = {"namespace": ["facts"], "key": key, "value": {"text": text, "note": "zzz"}}
            assert (
                await http.put("/store/items", json=body, headers=as_owner(owner))
            ).status_code == 204
        assert embeddings.calls == [[text] for text in CORPUS.values()], (
            "each put embeds its configured fields, once"
        )
        embeddings.calls.clear()
        hidden = {"namespace": ["facts"], "key": "hidden", "value": {"text": "favourite colour"}}
        await http.put("/store/items", json={**hidden, "index": False}, headers=as_owner(owner))
        titled = {
            "namespace": ["facts"],
            "key": "titled",
            "value": {"text": "x", "title": "blue sky"},
        }
        await http.put("/store/items", json={**titled, "index": ["title"]}, headers=as_owner(owner))
        assert embeddings.calls == [["blue sky"]], "index=false embeds nothing; a list its paths"
        assert rows.vectors("hidden") == [] and rows.vectors("titled") == ["title"]

        embeddings.calls.clear()
        items = await search(
            http, owner, namespace_prefix=["facts"], query="favourite colour", limit=20
        )
        assert embeddings.calls == [["favourite colour"]], "a search embeds the query only"
        keys = [i["key"] for i in items]
        assert keys[0] == "colour" and len(keys) == 7
        assert keys[-1] == "hidden" and items[-1]["score"] is None, "unindexed items come last"
        scored = [i["score"] for i in items[:-1]]
        assert scored == sorted(scored, reverse=True) and scored[0] > 0.5
        paged = [
            i["key"]
            for offset in (0, 2, 4, 6)
            for i in await search(
                http,
                owner,
                namespace_prefix=["facts"],
                query="favourite colour",
                limit=2,
                offset=offset,
            )
        ]
        assert paged == keys

        rewrite = {"namespace": ["facts"], "key": "dog", "value": {"text": "my favourite colour"}}
        await http.put("/store/items", json=rewrite, headers=as_owner(owner))
        again = await search(http, owner, namespace_prefix=["facts"], query="my favourite colour")
        assert again[0]["key"] == "dog", "a rewritten item is ranked by its new text"
        await http.request(
            "DELETE",
            "/store/items",
            json={"namespace": ["facts"], "key": "dog"},
            headers=as_owner(owner),
        )
        assert rows.vectors("dog") == [], "vectors go with their item"


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_ttl_refresh_and_expiry(dialect: str, tmp_path: Path, pg_url: str) -> None:
    owner = uuid.uuid4().hex
    settings = memory_settings(dialect, tmp_path, pg_url)
    rows = Rows(settings, owner)
    headers = as_owner(owner)
    async with memory_client(settings, StoreOptions()) as http:
        await http.put(
            "/store/items",
            json={"namespace": ["tmp"], "key": "a", "value": {"text": "a"}, "ttl": 10},
            headers=headers,
        )
        await http.put(
            "/store/items",
            json={"namespace": ["keep"], "key": "b", "value": {"text": "b"}},
            headers=headers,
        )
        ttl = rows.ttl("a")
        assert ttl is not None and ttl[1] == 10
        assert ttl[0] is not None and now() + dt.timedelta(minutes=9) < ttl[0]
        assert rows.ttl("b") == (None, None), "no ttl, no expiry"

        soon = now() + dt.timedelta(minutes=1)
        params = {"namespace": "tmp", "key": "a"}
        rows.set_expiry("a", soon)
        item = await http.get(
            "/store/items", params={**params, "refresh_ttl": "false"}, headers=headers
        )
        assert item.json()["key"] == "a"
        assert rows.ttl("a")[0] < now() + dt.timedelta(minutes=2)  # type: ignore[index,operator]
        await http.get("/store/items", params=params, headers=headers)
        assert rows.ttl("a")[0] > now() + dt.timedelta(minutes=5), "reads refresh by default"  # type: ignore[index,operator]

        rows.set_expiry("a", soon)
        await search(http, owner, namespace_prefix=["tmp"], refresh_ttl=False)
        assert rows.ttl("a")[0] < now() + dt.timedelta(minutes=2)  # type: ignore[index,operator]
        found = await search(http, owner, namespace_prefix=["tmp"], query="a", refresh_ttl=True)
        assert [i["key"] for i in found] == ["a"]
        assert rows.ttl("a")[0] > now() + dt.timedelta(minutes=5)  # type: ignore[index,operator]

        rows.set_expiry("a", now() - dt.timedelta(seconds=5))
        assert (await http.get("/store/items", params=params, headers=headers)).json() is None
        assert await search(http, owner, namespace_prefix=["tmp"]) == []
        assert await search(http, owner, namespace_prefix=["tmp"], query="a") == []
        spaces = await http.post("/store/namespaces", json={}, headers=headers)
        assert spaces.json() == {"namespaces": [["keep"]]}, "expired items are never returned"

        await http.put(
            "/store/items",
            json={"namespace": ["tmp"], "key": "half", "value": {}, "ttl": 0.5},
            headers=headers,
        )
        expected = 1.0 if dialect == "postgres" else 0.5
        assert rows.ttl("half")[1] == expected, "PostgreSQL keeps whole minutes (rounded up)"  # type: ignore[index]


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_ttl_defaults_come_from_langgraph_json(
    dialect: str, tmp_path: Path, pg_url: str
) -> None:
    owner = uuid.uuid4().hex
    settings = memory_settings(dialect, tmp_path, pg_url)
    rows = Rows(settings, owner)
    options = StoreOptions(default_ttl=5, refresh_on_read=False)
    headers = as_owner(owner)
    async with memory_client(settings, options) as http:
        base = {"namespace": ["n"], "value": {}}
        await http.put("/store/items", json={**base, "key": "dflt"}, headers=headers)
        await http.put("/store/items", json={**base, "key": "never", "ttl": None}, headers=headers)
        assert rows.ttl("dflt")[1] == 5 and rows.ttl("never") == (None, None)  # type: ignore[index]
        soon = now() + dt.timedelta(minutes=1)
        rows.set_expiry("dflt", soon)
        await http.get("/store/items", params={"namespace": "n", "key": "dflt"}, headers=headers)
        assert rows.ttl("dflt")[0] < now() + dt.timedelta(minutes=2), "refresh_on_read: false"  # type: ignore[index,operator]
        await http.get(
            "/store/items",
            params={"namespace": "n", "key": "dflt", "refresh_ttl": "true"},
            headers=headers,
        )
        assert rows.ttl("dflt")[0] > now() + dt.timedelta(minutes=3)  # type: ignore[index,operator]


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_the_sweeper_deletes_expired_items(dialect: str, tmp_path: Path, pg_url: str) -> None:
    owner = uuid.uuid4().hex
    settings = memory_settings(dialect, tmp_path, pg_url)
    rows = Rows(settings, owner)
    async with memory_client(settings, StoreOptions(sweep_interval_minutes=0.005)) as http:
        body = {"namespace": ["n"], "key": "old", "value": {"text": "x"}, "ttl": 60}
        await http.put("/store/items", json=body, headers=as_owner(owner))
        rows.set_expiry("old", now() - dt.timedelta(seconds=1))
        deadline = time.monotonic() + 30
        while rows.ttl("old") is not None:
            assert time.monotonic() < deadline, "the sweeper never deleted the expired item"
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_batch_runs_ops_in_order_for_one_owner(
    dialect: str, tmp_path: Path, pg_url: str
) -> None:
    owner = uuid.uuid4().hex
    settings = memory_settings(dialect, tmp_path, pg_url)
    async with memory_client(settings, StoreOptions()) as http:
        old = {"namespace": ["b"], "key": "old", "value": {"text": "old news"}}
        await http.put("/store/items", json=old, headers=as_owner(owner))
        ops = [
            {"op": "put", "namespace": ["b"], "key": "k1", "value": {"text": "fresh news"}},
            {"op": "get", "namespace": ["b"], "key": "k1"},
            {"op": "get", "namespace": ["b"], "key": "old"},
            {"op": "search", "namespace_prefix": ["b"], "query": "news"},
            {"op": "list_namespaces", "prefix": ["b"]},
            {"op": "delete", "namespace": ["b"], "key": "old"},
        ]
        answer = await http.post("/store/batch", json={"ops": ops}, headers=as_owner(owner))
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        assert len(results) == 6 and results[0] is None and results[5] is None
        assert results[1] is None, "reads see the state before the batch's writes"
        assert results[2]["value"] == {"text": "old news"} and results[2]["namespace"] == ["b"]
        assert [(i["key"], i["score"] > 0) for i in results[3]] == [("old", True)]
        assert results[4] == [["b"]]
        after = await http.post(
            "/store/batch",
            json={"ops": [ops[1], ops[2]]},
            headers=as_owner(owner),
        )
        fresh, gone = after.json()["results"]
        assert fresh["value"] == {"text": "fresh news"} and gone is None
        other = await http.post("/store/batch", json={"ops": [ops[1]]}, headers=as_owner("x"))
        assert other.json() == {"results": [None]}, "a batch is scoped to its owner"


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_owner_ids_cannot_reach_into_each_other(
    dialect: str, tmp_path: Path, pg_url: str
) -> None:
    settings = memory_settings(dialect, tmp_path, pg_url)
    base, dotted = f"u{uuid.uuid4().hex[:8]}", ""
    dotted = base + ".b"
    async with memory_client(settings, StoreOptions()) as http:
        for owner, namespace in ((base, ["b", "c"]), (dotted, ["c"])):
            body = {"namespace": namespace, "key": "k", "value": {"who": owner}}
            assert (
                await http.put("/store/items", json=body, headers=as_owner(owner))
            ).status_code == 204
        for owner in (base, dotted):
            found = await search(http, owner, namespace_prefix=[], limit=10)
            assert [i["value"]["who"] for i in found] == [owner]
            spaces = (await http.post("/store/namespaces", json={}, headers=as_owner(owner))).json()
            assert len(spaces["namespaces"]) == 1


BAD_REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("PUT", "/store/items", {"json": {"namespace": ["a.b"], "key": "k", "value": {}}}),
    ("PUT", "/store/items", {"json": {"namespace": [""], "key": "k", "value": {}}}),
    ("PUT", "/store/items", {"json": {"namespace": [], "key": "k", "value": {}}}),
    ("PUT", "/store/items", {"json": {"namespace": ["a"], "key": "", "value": {}}}),
    ("PUT", "/store/items", {"json": {"namespace": ["a"], "key": "k", "value": []}}),
    ("PUT", "/store/items", {"json": {"namespace": ["a"], "key": "k", "value": {}, "ttl": -1}}),
    ("PUT", "/store/items", {"json": {"namespace": ["a"], "key": "k", "value": {}, "ttl": 0}}),
    ("PUT", "/store/items", {"json": {"namespace": ["a"], "key": "k", "value": {}, "ttl": "x"}}),
    ("PUT", "/store/items", {"json": {"namespace": ["a"], "key": "k", "value": {}, "ttl": 1e12}}),
    ("PUT", "/store/items", {"json": {"namespace": ["a"], "key": "k", "value": {}, "index": True}}),
    ("GET", "/store/items", {"params": {"namespace": "a..b", "key": "k"}}),
    ("GET", "/store/items", {"params": {"namespace": "a", "key": "k", "refresh_ttl": "maybe"}}),
    ("DELETE", "/store/items", {"json": {"namespace": ["a"]}}),
    ("POST", "/store/items/search", {"json": {"namespace_prefix": ["a.b"]}}),
    ("POST", "/store/items/search", {"json": {"limit": 0}}),
    ("POST", "/store/items/search", {"json": {"offset": -1}}),
    ("POST", "/store/items/search", {"json": {"filter": {"n": {"$regex": "x"}}}}),
    ("POST", "/store/items/search", {"json": {"filter": {"$or": [{"a": 1}]}}}),
    ("POST", "/store/items/search", {"json": {"filter": {"$and": {"a": 1}}}}),
    ("POST", "/store/namespaces", {"json": {"max_depth": 0}}),
    ("POST", "/store/namespaces", {"json": {"prefix": ["a.b"]}}),
    ("POST", "/store/batch", {"json": {"ops": [{"op": "nope"}]}}),
    ("POST", "/store/batch", {"json": {"ops": [{"op": "get", "namespace": ["a"]}]}}),
    (
        "POST",
        "/store/batch",
        {"json": {"ops": [{"op": "put", "namespace": ["a.b"], "key": "k", "value": {}}]}},
    ),
    ("POST", "/store/batch", {"json": {"ops": "get"}}),
    # Past what the databases' integers hold: PostgreSQL's "integer out of range" was a 500.
    ("POST", "/store/items/search", {"json": {"offset": 10**20}}),
    ("POST", "/store/items/search", {"json": {"offset": 2**31}}),
    ("POST", "/store/items/search", {"json": {"limit": 10**20}}),
    ("POST", "/store/namespaces", {"json": {"offset": 10**20}}),
    ("POST", "/store/namespaces", {"json": {"max_depth": 10**20}}),
    ("POST", "/store/namespaces", {"json": {"max_depth": 2**31 - 1}}),
    ("POST", "/store/namespaces", {"json": {"limit": 10**20}}),
    ("POST", "/store/batch", {"json": {"ops": [{"op": "search", "offset": 10**20}]}}),
    ("POST", "/store/batch", {"json": {"ops": [{"op": "search", "limit": 10**20}]}}),
    ("POST", "/store/batch", {"json": {"ops": [{"op": "list_namespaces", "offset": 10**20}]}}),
    ("POST", "/store/batch", {"json": {"ops": [{"op": "list_namespaces", "max_depth": 10**20}]}}),
    # NUL, which PostgreSQL's text and jsonb refuse (refused on SQLite too, to answer the same).
    ("PUT", "/store/items", {"json": {"namespace": ["a"], "key": "k\x00", "value": {}}}),
    ("PUT", "/store/items", {"json": {"namespace": ["a\x00"], "key": "k", "value": {}}}),
    ("PUT", "/store/items", {"json": {"namespace": ["a"], "key": "k", "value": {"t": "x\x00"}}}),
    ("PUT", "/store/items", {"json": {"namespace": ["a"], "key": "k", "value": {"t\x00": 1}}}),
    (
        "PUT",
        "/store/items",
        {"json": {"namespace": ["a"], "key": "k", "value": {"t": [1, {"u": ["\x00"]}]}}},
    ),
    (
        "PUT",
        "/store/items",
        {"json": {"namespace": ["a"], "key": "k", "value": {}, "index": ["\x00"]}},
    ),
    ("GET", "/store/items", {"params": {"namespace": "a", "key": "k\x00"}}),
    ("DELETE", "/store/items", {"json": {"namespace": ["a"], "key": "k\x00"}}),
    ("POST", "/store/items/search", {"json": {"filter": {"t": "x\x00"}}}),
    ("POST", "/store/items/search", {"json": {"filter": {"t": {"$gt": "x\x00"}}}}),
    ("POST", "/store/items/search", {"json": {"filter": {"t": {"$eq": ["x\x00"]}}}}),
    ("POST", "/store/items/search", {"json": {"filter": {"t\x00": "x"}}}),
    ("POST", "/store/namespaces", {"json": {"prefix": ["a\x00"]}}),
    ("POST", "/store/namespaces", {"json": {"suffix": ["a\x00"]}}),
    # Integers past 64 bits, which SQLite's JSON encoder and parameters refuse.
    ("PUT", "/store/items", {"json": {"namespace": ["a"], "key": "k", "value": {"n": 2**70}}}),
    ("PUT", "/store/items", {"json": {"namespace": ["a"], "key": "k", "value": {"n": [2**63]}}}),
    (
        "PUT",
        "/store/items",
        {"json": {"namespace": ["a"], "key": "k", "value": {"n": -(2**63) - 1}}},
    ),
    ("POST", "/store/items/search", {"json": {"filter": {"n": 10**400}}}),
    ("POST", "/store/items/search", {"json": {"filter": {"n": {"$gt": 10**400}}}}),
    ("POST", "/store/items/search", {"json": {"filter": {"n": {"$ne": [2**70]}}}}),
    # A batch is checked whole before it runs: its good put is not stored either.
    (
        "POST",
        "/store/batch",
        {
            "json": {
                "ops": [
                    {"op": "put", "namespace": ["a"], "key": "good", "value": {"t": "x"}},
                    {"op": "put", "namespace": ["a"], "key": "k", "value": {"t": "x\x00"}},
                ]
            }
        },
    ),
    (
        "POST",
        "/store/batch",
        {
            "json": {
                "ops": [
                    {"op": "put", "namespace": ["a"], "key": "good", "value": {"t": "x"}},
                    {"op": "search", "filter": {"n": 2**70}},
                ]
            }
        },
    ),
]


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_bad_input_is_a_clear_4xx(dialect: str, tmp_path: Path, pg_url: str) -> None:
    settings = memory_settings(dialect, tmp_path, pg_url)
    async with memory_client(settings, StoreOptions()) as http:
        for method, path, request in BAD_REQUESTS:
            answer = await http.request(method, path, headers=as_owner("someone"), **request)
            assert answer.status_code == 422, (
                method,
                path,
                request,
                answer.status_code,
                answer.text,
            )
            assert isinstance(answer.json()["detail"], str) and answer.json()["detail"]
        assert await search(http, "someone", namespace_prefix=[], limit=1000) == [], (
            "a refused request stores nothing"
        )
        spaces = await http.post("/store/namespaces", json={}, headers=as_owner("someone"))
        assert spaces.json() == {"namespaces": []}
        for method, path in (("PUT", "/store/items"), ("DELETE", "/store/items")):
            broken = await http.request(method, path, content=b"{not json", headers=as_owner("x"))
            assert broken.status_code == 400 and "JSON" in broken.json()["detail"], broken.text
        if dialect == "sqlite":  # keys become JSON paths there (PostgreSQL passes them as values)
            odd = {"filter": {"bad key!": 1}, "query": "x"}
            answer = await http.post("/store/items/search", json=odd, headers=as_owner("x"))
            assert answer.status_code == 422 and "filter" in answer.json()["detail"]
        missing = await http.get("/store/items", params={"namespace": "a"})
        assert missing.status_code == 400 and missing.json() == {"detail": "Key is required"}


async def test_postgres_refuses_to_start_before_migrate(tmp_path: Path) -> None:
    from headwater.memory.store import open_backend
    from tests.services import create_database, drop_database

    url = create_database()
    try:
        settings = memory_settings("postgres", tmp_path, url)
        with pytest.raises(RuntimeError, match="headwater migrate"):
            async with open_backend(settings, StoreOptions(), setup=False):
                pass
        async with open_backend(settings, StoreOptions(), setup=True):
            pass
        async with open_backend(settings, StoreOptions(), setup=True):  # idempotent
            pass
        async with open_backend(settings, StoreOptions(), setup=False):
            pass
    finally:
        drop_database(url)


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_value_the_database_refuses_is_a_422(
    dialect: str, tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backstop behind the service's own checks: a data error of the database is the
    caller's 422 (PostgreSQL: NUL in jsonb; SQLite: a text over its length limit)."""
    import sqlite3

    from headwater.memory import service

    monkeypatch.setattr(service, "check_json", lambda value, what: None)
    settings = memory_settings(dialect, tmp_path, pg_url)
    app = create_app(settings, setup=True, options=StoreOptions())
    transport = httpx.ASGITransport(app=app)
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url="http://memory", timeout=30) as http,
    ):
        text = "x\x00"
        if dialect == "sqlite":
            conn = app.state.service.backend.store.conn
            await conn._execute(conn._conn.setlimit, sqlite3.SQLITE_LIMIT_LENGTH, 1000)
            text = "x" * 2000
        body = {"namespace": ["a"], "key": "k", "value": {"t": text}}
        answer = await http.put("/store/items", json=body, headers=as_owner("someone"))
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"].startswith("the database cannot take a value")
        assert await search(http, "someone", namespace_prefix=[]) == []


async def test_a_dead_database_is_still_a_5xx(tmp_path: Path) -> None:
    """Mapping data errors to 422 hides no outage: a database gone is a server fault."""
    from tests.services import create_database, drop_database

    url = create_database()
    try:
        settings = memory_settings("postgres", tmp_path, url)
        async with memory_client(settings, StoreOptions()) as http:
            assert await search(http, "someone", namespace_prefix=[]) == []
            drop_database(url)  # WITH (FORCE): the pool's connections are cut
            answer = await http.post("/store/items/search", json={}, headers=as_owner("someone"))
            assert answer.status_code >= 500, answer.text
            assert answer.json() == {"detail": "Internal server error"}
    finally:
        drop_database(url)


async def test_pgvector_hnsw_index_serves_semantic_search(
    tmp_path: Path, vector_pg_url: str, embeddings: Embeddings
) -> None:
    """PostgreSQL: vectors live in the official store's pgvector table with an HNSW index (the
    hand-kept real[] table is gone), the search's nearest-vector query can use that index, a
    narrow namespace still fills its page, and a rewrite drops vectors of fields it no longer
    indexes."""
    import psycopg

    settings = memory_settings(
        "postgres", tmp_path, vector_pg_url, HEADWATER_EMBEDDINGS_BASE_URL=embeddings.url
    )
    owner, crowd = uuid.uuid4().hex, uuid.uuid4().hex
    async with memory_client(settings, SEMANTIC) as http:
        for i in range(300):  # another owner's many vectors, all nearer than ours
            body = {"namespace": ["facts"], "key": f"c{i}", "value": {"text": f"colour {i}"}}
            assert (
                await http.put("/store/items", json=body, headers=as_owner(crowd))
            ).status_code == 204
        await put_all(http, owner, CORPUS)
        found = await search(http, owner, namespace_prefix=["facts"], query="colour", limit=5)
        assert found[0]["key"] == "colour" and len(found) == 5
        assert all(i["score"] is not None for i in found), "every item of ours is ranked"

        two = {"namespace": ["facts"], "key": "two", "value": {"text": "sky", "title": "blue"}}
        await http.put(
            "/store/items", json={**two, "index": ["text", "title"]}, headers=as_owner(owner)
        )
        assert Rows(settings, owner).vectors("two") == ["text", "title"]
        await http.put("/store/items", json={**two, "index": ["title"]}, headers=as_owner(owner))
        assert Rows(settings, owner).vectors("two") == ["title"], "the stale field's vector goes"

    with psycopg.connect(settings.store_dsn, autocommit=True) as conn:
        [definition] = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'store_vectors'"
            " AND indexname = 'store_vectors_embedding_idx'"
        ).fetchone() or [""]
        assert "hnsw" in definition and "vector_cosine_ops" in definition
        assert conn.execute("SELECT to_regclass('headwater_store_vectors')").fetchone() == (None,)
        conn.execute("SET enable_seqscan = off")  # a table this small would be scanned
        plan = conn.execute(
            "EXPLAIN SELECT v.prefix, v.key, v.embedding <=> %s::vector AS d FROM store_vectors v"
            " ORDER BY d LIMIT 200",
            ([0.125] * 64,),
        ).fetchall()
        assert "store_vectors_embedding_idx" in " ".join(row[0] for row in plan)


async def test_embedding_size_is_learnt_when_store_index_has_no_dims(
    tmp_path: Path, vector_pg_url: str, embeddings: Embeddings
) -> None:
    """Only ``HEADWATER_EMBEDDINGS_BASE_URL`` (no ``store.index.dims``): pgvector needs a size,
    so migrate asks the model once; later starts read it from the table."""
    import psycopg

    from tests.services import create_database, drop_database

    url = create_database(pgvector=True)
    try:
        settings = memory_settings(
            "postgres", tmp_path, url, HEADWATER_EMBEDDINGS_BASE_URL=embeddings.url
        )
        whole = StoreOptions(index=SemanticIndex("headwater-sim", None, ("$",)))
        async with memory_client(settings, whole) as http:
            await put_all(http, "o", {"sky": "the sky is blue"})
            found = await search(http, "o", namespace_prefix=["facts"], query="blue sky")
            assert found[0]["key"] == "sky" and found[0]["score"] > 0.5
        with psycopg.connect(settings.store_dsn) as conn:
            row = conn.execute(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
                " WHERE attrelid = 'store_vectors'::regclass AND attname = 'embedding'"
            ).fetchone()
        assert row == ("vector(64)",)
        embeddings.calls.clear()
        app = create_app(settings, options=whole)  # not set up: reads the size from the table
        async with app.lifespan():
            pass
        assert embeddings.calls == []
    finally:
        drop_database(url)


async def test_semantic_search_without_pgvector_says_what_to_install(tmp_path: Path) -> None:
    from headwater.memory.store import open_backend
    from tests.services import admin_dsn, create_database, drop_database, has_pgvector

    if has_pgvector(admin_dsn()):
        pytest.skip("this PostgreSQL has pgvector (the check runs where it is missing)")
    url = create_database()
    try:
        settings = memory_settings(
            "postgres", tmp_path, url, HEADWATER_EMBEDDINGS_BASE_URL="http://127.0.0.1:9/v1"
        )
        with pytest.raises(RuntimeError, match="needs the pgvector extension"):
            async with open_backend(settings, SEMANTIC, setup=True):
                pass
    finally:
        drop_database(url)

"""The LangGraph Store API through the API (served by the memory service) with langgraph-sdk."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import httpx
import pytest
from langgraph_sdk import get_client

from headwater.common.settings import load_settings
from tests.e2e.harness import ROOT, Deployment, start_dev
from tests.integration.memory_support import Rows, now

pytestmark = [pytest.mark.e2e, pytest.mark.k8s_local, pytest.mark.timeout(60)]


async def test_store_items_and_namespaces(deployment: Deployment) -> None:
    client = get_client(url=deployment.base_url)
    user = f"u{uuid.uuid4().hex[:8]}"
    await client.store.put_item(
        ["users", user, "facts"], "colour", {"text": "my favourite colour is blue", "kind": "pref"}
    )
    await client.store.put_item(
        ["users", user, "facts"], "city", {"text": "I live in Lyon", "kind": "place"}
    )
    await client.store.put_item(["users", user, "notes"], "n1", {"text": "call mum"})
    item = await client.store.get_item(["users", user, "facts"], "colour")
    assert item["value"]["text"] == "my favourite colour is blue" and item["namespace"] == [
        "users",
        user,
        "facts",
    ]
    assert item["created_at"] and item["updated_at"]
    found = await client.store.search_items(["users", user], filter={"kind": "place"})
    assert [i["key"] for i in found["items"]] == ["city"]
    everything = await client.store.search_items(["users", user], limit=10)
    assert {i["key"] for i in everything["items"]} == {"colour", "city", "n1"}
    spaces = await client.store.list_namespaces(prefix=["users", user])
    assert sorted(map(tuple, spaces["namespaces"])) == [
        ("users", user, "facts"),
        ("users", user, "notes"),
    ]
    shallow = await client.store.list_namespaces(prefix=["users", user], max_depth=2)
    assert spaces["namespaces"] and [tuple(n) for n in shallow["namespaces"]] == [("users", user)]
    await client.store.delete_item(["users", user, "facts"], "city")
    assert await client.store.get_item(["users", user, "facts"], "city") is None

    async with httpx.AsyncClient(base_url=deployment.base_url) as http:
        bad = await http.put("/store/items", json={"namespace": ["a.b"], "key": "k", "value": {}})
        assert bad.status_code == 422
        assert (await http.get("/store/items", params={"namespace": "users"})).status_code == 400
        spoofed = await http.get(
            "/store/items",
            params={"namespace": f"users.{user}.facts", "key": "colour"},
            headers={"x-headwater-owner": "someone"},
        )
        assert spoofed.json()["value"]["text"].endswith("blue"), (
            "a client cannot choose the owner header"
        )


async def test_a_graph_remembers_across_threads(deployment: Deployment) -> None:
    client = get_client(url=deployment.base_url)
    first, second = await client.threads.create(), await client.threads.create()
    noted = await client.runs.wait(
        first["thread_id"], "memo", input={"remember": "my favourite colour is blue"}
    )
    assert noted["answer"] == "noted"
    recalled = await client.runs.wait(second["thread_id"], "memo", input={"recall": "colour"})
    assert recalled["answer"] == "my favourite colour is blue"
    assert recalled["found"] == ["fact"], "a get and a search in one store batch, from a worker"
    item = await client.store.get_item(["memo"], "fact")
    assert item["value"] == {"text": "my favourite colour is blue"}, (
        "the graph wrote the caller's store"
    )


async def test_extract_then_relevant(deployment: Deployment) -> None:
    user = f"u{uuid.uuid4().hex[:8]}"
    conversation = [
        {"role": "user", "content": "Hello! I live in Lyon. My favourite colour is blue."},
        {"role": "assistant", "content": "Nice to meet you."},
        {"role": "user", "content": "My dog is called Rex. What's the weather like?"},
    ]
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=30) as http:
        saved = (
            await http.post(
                "/memories/extract", json={"user_id": user, "conversation": conversation}
            )
        ).json()
        assert saved["memories_saved"] == 3
        assert {m["text"] for m in saved["memories"]} == {
            "I live in Lyon",
            "My favourite colour is blue",
            "My dog is called Rex",
        }
        again = (
            await http.post(
                "/memories/extract", json={"user_id": user, "conversation": conversation}
            )
        ).json()
        assert again["memories_saved"] == 3
        relevant = (
            await http.get(
                "/memories/relevant",
                params={"user_id": user, "prompt": "what is my favourite colour?", "limit": 3},
            )
        ).json()
        texts = [m["text"] for m in relevant["memories"]]
        assert texts[0] == "My favourite colour is blue" and len(texts) == 3, (
            "no duplicates after a second extraction"
        )
        assert relevant["memories"][0]["score"] > relevant["memories"][1]["score"]
        assert (
            await http.get("/memories/relevant", params={"user_id": user, "prompt": " "})
        ).status_code == 400
        assert (
            await http.post("/memories/extract", json={"user_id": user, "conversation": []})
        ).status_code == 400


async def test_search_ranks_by_the_query(deployment: Deployment) -> None:
    client = get_client(url=deployment.base_url)
    ns = ["rank", uuid.uuid4().hex[:8]]
    for key, text in {
        "city": "I live in Lyon",
        "colour": "My favourite colour is blue",
        "sister": "My sister lives in Lyon too",
    }.items():
        await client.store.put_item(ns, key, {"text": text})
    found = (await client.store.search_items(ns, query="Lyon", limit=2))["items"]
    assert [i["key"] for i in found] == ["city", "sister"] and found[0]["score"] > 0
    rest = (await client.store.search_items(ns, query="Lyon", limit=2, offset=2))["items"]
    assert [(i["key"], i["score"]) for i in rest] == [("colour", 0.0)], "non-matches come last"


def store_rows(deployment: Deployment) -> Rows:
    """The deployment's store rows of the anonymous owner (no auth configured)."""
    return Rows(load_settings(deployment.env), "")


async def test_ttl_through_the_api(deployment: Deployment) -> None:
    if deployment.kind in ("external", "up"):
        pytest.skip("needs the deployment's database")
    client = get_client(url=deployment.base_url)
    rows = store_rows(deployment)
    ns, key = ["ttl"], f"k{uuid.uuid4().hex[:8]}"
    await client.store.put_item(ns, key, {"text": "short-lived"}, ttl=30)
    expires, minutes = rows.ttl(key) or (None, None)
    assert minutes == 30 and expires is not None and expires > now() + dt.timedelta(minutes=25)
    rows.set_expiry(key, now() + dt.timedelta(minutes=1))
    assert (await client.store.get_item(ns, key, refresh_ttl=False))["key"] == key
    assert rows.ttl(key)[0] < now() + dt.timedelta(minutes=2)  # type: ignore[index,operator]
    await client.store.get_item(ns, key, refresh_ttl=True)
    assert rows.ttl(key)[0] > now() + dt.timedelta(minutes=25), "refresh_ttl restarted it"  # type: ignore[index,operator]
    rows.set_expiry(key, now() - dt.timedelta(seconds=1))
    assert await client.store.get_item(ns, key) is None, "expired items are never returned"
    assert key not in {i["key"] for i in (await client.store.search_items(ns))["items"]}

    async with httpx.AsyncClient(base_url=deployment.base_url) as http:
        for ttl in (-1, 0, "soon"):
            bad = await http.put(
                "/store/items", json={"namespace": ns, "key": "k", "value": {}, "ttl": ttl}
            )
            assert bad.status_code == 422 and "ttl" in bad.text, (ttl, bad.text)
        bad = await http.post("/store/items/search", json={"filter": {"$or": []}, "limit": 0})
        assert bad.status_code == 422
        assert (await http.post("/store/batch", json={"ops": []})).status_code == 404, (
            "the batch endpoint is the workers', not the API's"
        )


@pytest.fixture(scope="module")
def semantic_dev() -> Iterator[Deployment]:
    config = str(ROOT / "tests" / "graphs" / "langgraph_memory.json")
    deployment = start_dev(extra_env={"HEADWATER_CONFIG": config})
    yield deployment
    deployment.stop()


async def test_semantic_search_follows_store_index(semantic_dev: Deployment) -> None:
    client = get_client(url=semantic_dev.base_url)
    ns = ["sem", uuid.uuid4().hex[:8]]
    await client.store.put_item(ns, "colour", {"text": "My favourite colour is blue"})
    await client.store.put_item(ns, "dog", {"text": "My dog is called Rex"})
    await client.store.put_item(ns, "raw", {"text": "favourite colour"}, index=False)
    found = (await client.store.search_items(ns, query="what is my favourite colour?"))["items"]
    assert [i["key"] for i in found] == ["colour", "dog", "raw"]
    assert found[0]["score"] > found[1]["score"] and found[2]["score"] is None, (
        "ranked by meaning; the unindexed item last, unscored"
    )
    minutes = store_rows(semantic_dev).ttl("colour")
    assert minutes is not None and minutes[1] == 60, "store.ttl.default_ttl applies"

    first, second = await client.threads.create(), await client.threads.create()
    await client.runs.wait(first["thread_id"], "memo", input={"remember": "blue"})
    recalled = await client.runs.wait(second["thread_id"], "memo", input={"recall": "blue"})
    assert recalled["answer"] == "blue" and recalled["found"] == ["fact"]

"""The LangGraph Store API through the API (served by the memory service) with langgraph-sdk."""

from __future__ import annotations

import uuid

import httpx
import pytest
from langgraph_sdk import get_client

from tests.e2e.harness import Deployment

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


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
    recalled = await client.runs.wait(second["thread_id"], "memo", input={})
    assert recalled["answer"] == "my favourite colour is blue"
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

"""LangGraph custom auth on the store, with langgraph-sdk: ``@auth.on.store`` handlers refuse,
rewrite the namespace, and AND a filter into searches (tests/graphs/auth.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import AuthenticationError, PermissionDeniedError

from tests.e2e.harness import ROOT, Deployment, start_dev

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def guarded() -> Iterator[Deployment]:
    config = str(ROOT / "tests" / "graphs" / "langgraph_auth.json")
    deployment = start_dev(extra_env={"HEADWATER_CONFIG": config})
    yield deployment
    deployment.stop()


async def test_store_handlers_scope_refuse_and_filter(guarded: Deployment) -> None:
    alice = get_client(url=guarded.base_url, headers={"Authorization": "Bearer token-alice"})
    bob = get_client(url=guarded.base_url, headers={"Authorization": "Bearer token-bob"})

    await alice.store.put_item(["notes"], "n1", {"text": "call the bank"})
    item = await alice.store.get_item(["notes"], "n1")
    assert item is not None and item["namespace"] == ["alice", "notes"], (
        "the put handler rewrote the namespace, and so did the get handler"
    )
    assert (await alice.store.get_item(["alice", "notes"], "n1"))["key"] == "n1"
    assert await bob.store.get_item(["alice", "notes"], "n1") is None
    assert (await bob.store.search_items(["notes"]))["items"] == []
    mine = await alice.store.search_items(["notes"], query="bank")
    assert [(i["key"], i["namespace"]) for i in mine["items"]] == [("n1", ["alice", "notes"])]

    await alice.store.put_item(["archive"], "a1", {"text": "release notes", "visibility": "public"})
    await alice.store.put_item(["archive"], "a2", {"text": "release plan", "visibility": "private"})
    found = await alice.store.search_items(["archive"], query="release")
    assert [i["key"] for i in found["items"]] == ["a1"], "the handler's filter applies"
    anded = await alice.store.search_items(["archive"], filter={"visibility": "private"})
    assert anded["items"] == [], "AND-ed with the caller's filter, not replacing it"
    with pytest.raises(PermissionDeniedError, match="only alice files into an archive"):
        await bob.store.put_item(["archive"], "b1", {"text": "mine", "visibility": "public"})
    with pytest.raises(PermissionDeniedError, match="Forbidden"):
        await alice.store.delete_item(["archive"], "a1")
    assert (await alice.store.get_item(["archive"], "a2"))["value"]["visibility"] == "private"

    spaces = await alice.store.list_namespaces()
    assert sorted(map(tuple, spaces["namespaces"])) == [("alice", "archive"), ("alice", "notes")]
    narrowed = await alice.store.list_namespaces(prefix=["notes"])
    assert [tuple(n) for n in narrowed["namespaces"]] == [("alice", "notes")]
    assert (await bob.store.list_namespaces())["namespaces"] == []
    await alice.store.delete_item(["notes"], "n1")
    assert await alice.store.get_item(["notes"], "n1") is None

    with pytest.raises(AuthenticationError):
        await get_client(url=guarded.base_url).store.get_item(["notes"], "n1")
    async with httpx.AsyncClient(base_url=guarded.base_url) as http:
        headers = {"Authorization": "Bearer token-alice"}
        bad = await http.put("/store/items", json={"namespace": "notes"}, headers=headers)
        assert bad.status_code == 422 and "namespace" in bad.json()["detail"]
        broken = await http.post("/store/items/search", content=b"[1]", headers=headers)
        assert broken.status_code == 422

"""The resource controllers in process: assistants, threads and crons as clients see them."""

from __future__ import annotations

import pytest

from tests.api.conftest import InProcessApi, new_id

pytestmark = [pytest.mark.api, pytest.mark.timeout(60)]


async def test_assistant_lifecycle_with_versions(api: InProcessApi) -> None:
    http = api.http
    created = await http.post(
        "/assistants",
        json={"graph_id": "counter", "name": "v1", "metadata": {"team": "x"}, "context": {"a": 1}},
    )
    assert created.status_code == 200
    assistant = created.json()
    aid = assistant["assistant_id"]
    assert assistant["version"] == 1 and assistant["name"] == "v1"

    patched = (await http.patch(f"/assistants/{aid}", json={"name": "v2"})).json()
    assert patched["version"] == 2 and patched["name"] == "v2"
    assert patched["metadata"] == {"team": "x"}, "metadata is kept by a patch that omits it"
    versions = (await http.post(f"/assistants/{aid}/versions", json={})).json()
    assert sorted(v["version"] for v in versions) == [1, 2]

    back = (await http.post(f"/assistants/{aid}/latest", json={"version": 1})).json()
    assert back["version"] == 1 and back["name"] == "v1"
    assert (await http.get(f"/assistants/{aid}")).json()["name"] == "v1"

    found = (await http.post("/assistants/search", json={"metadata": {"team": "x"}})).json()
    assert [a["assistant_id"] for a in found] == [aid]
    count = (await http.post("/assistants/count", json={"metadata": {"team": "x"}})).json()
    assert count == 1

    assert (await http.delete(f"/assistants/{aid}")).status_code in (200, 204)
    assert (await http.get(f"/assistants/{aid}")).status_code == 404


async def test_assistant_create_refusals(api: InProcessApi) -> None:
    http = api.http
    unknown = await http.post("/assistants", json={"graph_id": "no-such-graph"})
    assert unknown.status_code == 404 and "no-such-graph" in unknown.json()["detail"]
    aid = new_id()
    assert (
        await http.post("/assistants", json={"graph_id": "counter", "assistant_id": aid})
    ).status_code == 200
    again = await http.post("/assistants", json={"graph_id": "counter", "assistant_id": aid})
    assert again.status_code == 409
    kept = await http.post(
        "/assistants", json={"graph_id": "counter", "assistant_id": aid, "if_exists": "do_nothing"}
    )
    assert kept.status_code == 200 and kept.json()["assistant_id"] == aid
    assert (await http.get("/assistants/counter")).status_code == 422, "ids must be UUIDs"


async def test_thread_metadata_search_count_and_paging(api_with_worker: InProcessApi) -> None:
    http = api_with_worker.http  # deleting a thread asks a worker to drop its checkpoints
    tag = new_id()
    ids = []
    for n in range(3):
        thread = (await http.post("/threads", json={"metadata": {"tag": tag, "n": n}})).json()
        ids.append(thread["thread_id"])
    page = await http.post(
        "/threads/search", json={"metadata": {"tag": tag}, "limit": 2, "sort_order": "asc"}
    )
    assert [t["thread_id"] for t in page.json()] == ids[:2]
    rest = await http.post(
        "/threads/search",
        json={"metadata": {"tag": tag}, "limit": 2, "offset": 2, "sort_order": "asc"},
    )
    assert [t["thread_id"] for t in rest.json()] == ids[2:]
    count = (await http.post("/threads/count", json={"metadata": {"tag": tag}})).json()
    assert count == 3

    merged = await http.patch(f"/threads/{ids[0]}", json={"metadata": {"extra": True}})
    assert merged.json()["metadata"] == {"tag": tag, "n": 0, "extra": True}
    assert (await http.delete(f"/threads/{ids[0]}")).status_code in (200, 204)
    assert (await http.get(f"/threads/{ids[0]}")).status_code == 404
    assert (await http.post("/threads/count", json={"metadata": {"tag": tag}})).json() == 2


async def test_deleting_a_thread_without_a_worker_is_503_and_can_be_retried(
    api: InProcessApi,
) -> None:
    # No worker answers the checkpoint purge: the thread stays marked ``deleting`` (hidden,
    # nothing new starts on it) and a later DELETE finishes the job.
    tid = (await api.http.post("/threads", json={})).json()["thread_id"]
    response = await api.http.delete(f"/threads/{tid}")
    assert response.status_code == 503 and response.json()["detail"]
    assert (await api.http.get(f"/threads/{tid}")).status_code == 404
    refused = await api.http.post(f"/threads/{tid}/runs", json={"assistant_id": "counter"})
    assert refused.status_code == 404
    assert (await api.http.delete(f"/threads/{tid}")).status_code == 503


async def test_thread_create_if_exists(api: InProcessApi) -> None:
    http = api.http
    tid = new_id()
    assert (await http.post("/threads", json={"thread_id": tid})).status_code == 200
    assert (await http.post("/threads", json={"thread_id": tid})).status_code == 409
    kept = await http.post("/threads", json={"thread_id": tid, "if_exists": "do_nothing"})
    assert kept.status_code == 200 and kept.json()["thread_id"] == tid


async def test_cron_lifecycle_without_firing(api: InProcessApi) -> None:
    http = api.http
    created = await http.post(
        "/runs/crons",
        json={"assistant_id": "counter", "schedule": "0 3 * * *", "input": {"steps": 1}},
    )
    assert created.status_code == 200, created.text
    cron = created.json()
    cid = cron["cron_id"]
    assert cron["schedule"] == "0 3 * * *" and cron["next_run_date"]
    found = (await http.post("/runs/crons/search", json={"assistant_id": "counter"})).json()
    assert cid in [c["cron_id"] for c in found]
    assert (await http.post("/runs/crons/count", json={"assistant_id": "counter"})).json() >= 1
    bad = await http.post("/runs/crons", json={"assistant_id": "counter", "schedule": "every day"})
    assert bad.status_code == 422
    assert (await http.delete(f"/runs/crons/{cid}")).status_code in (200, 204)
    remaining = (await http.post("/runs/crons/search", json={"assistant_id": "counter"})).json()
    assert cid not in [c["cron_id"] for c in remaining]


async def test_openapi_describes_the_langgraph_routes(api: InProcessApi) -> None:
    schema = (await api.http.get("/docs/openapi.json")).json()
    for path in ("/threads", "/threads/{thread_id}/runs", "/assistants/search", "/runs/crons"):
        assert path in schema["paths"], path

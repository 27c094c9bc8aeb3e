"""Every kind of handler gets what it declares from Litestar's DI (``system/dependencies.py``
and the crons controller's own provider): a dependency a provider does not cover would be
read as a query parameter and answer 400, so each answer here is checked for its real shape."""

from __future__ import annotations

import pytest

from tests.api.conftest import InProcessApi, new_id

pytestmark = [pytest.mark.api, pytest.mark.timeout(60)]


async def test_system_routes_get_the_bus_and_the_database(api: InProcessApi) -> None:
    ready = await api.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"bus": "ok", "database": "ok"}
    metrics = await api.http.get("/metrics")
    assert metrics.status_code == 200 and "headwater" in metrics.text


async def test_fronts_get_the_run_service(api: InProcessApi) -> None:
    http = api.http
    models = await http.get("/v1/models")
    assert models.status_code == 200
    assert "counter" in [m["id"] for m in models.json()["data"]], "graph ids are injected"
    for path in (
        "/v1/runs/run_0123456789abcdef0123456789abcdef/events",
        "/api/v1/chat/runs/run_0123456789abcdef0123456789abcdef/events",  # the same handler
    ):
        missing = await http.get(path)
        assert missing.status_code == 404, (path, missing.text)
        assert missing.json()["error"]["code"] == "not_found"
    stop = await http.post("/v1/runs/run_0123456789abcdef0123456789abcdef/stop")
    assert stop.status_code == 404 and stop.json()["error"]["code"] == "not_found"
    debug = await http.get("/v1/debug/stream/nothing-here")
    assert debug.status_code == 404 and debug.json()["error"]["type"] == "not_found"


async def test_runs_threads_and_crons_get_their_services(api_with_worker: InProcessApi) -> None:
    http = api_with_worker.http  # a worker: copy, prune and delete ask one about checkpoints
    thread_id = (await http.post("/threads", json={})).json()["thread_id"]
    runs = await http.get(f"/threads/{thread_id}/runs")
    assert runs.status_code == 200 and runs.json() == []
    gone = await http.get(f"/threads/{thread_id}/runs/{new_id()}")
    assert gone.status_code == 404
    cancel_none = await http.post("/runs/cancel", json={"status": "pending"})
    assert cancel_none.status_code == 204
    copied = await http.post(f"/threads/{thread_id}/copy")
    assert copied.status_code == 200 and copied.json()["thread_id"] != thread_id
    pruned = await http.post("/threads/prune", json={"thread_ids": [copied.json()["thread_id"]]})
    assert pruned.json() == {"pruned_count": 1}
    assert (await http.delete(f"/threads/{thread_id}")).status_code == 204
    assert (await http.get(f"/threads/{thread_id}")).status_code == 404
    crons = await http.post("/runs/crons/search", json={})
    assert crons.status_code == 200 and crons.json() == []
    assert (await http.get(f"/runs/crons/{new_id()}")).status_code == 404

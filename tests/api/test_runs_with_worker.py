"""Runs that finish, with the worker in the same loop: wait, state, history, join."""

from __future__ import annotations

import pytest

from tests.api.conftest import InProcessApi

pytestmark = [pytest.mark.api, pytest.mark.timeout(60)]


async def test_wait_returns_the_final_values_and_the_thread_is_idle(
    api_with_worker: InProcessApi,
) -> None:
    http = api_with_worker.http
    tid = (await http.post("/threads", json={})).json()["thread_id"]
    response = await http.post(
        f"/threads/{tid}/runs/wait", json={"assistant_id": "counter", "input": {"steps": 3}}
    )
    assert response.status_code == 200
    assert response.json()["log"] == ["step 1", "step 2", "step 3"]
    thread = (await http.get(f"/threads/{tid}")).json()
    assert thread["status"] == "idle" and thread["values"]["count"] == 3
    runs = (await http.get(f"/threads/{tid}/runs")).json()
    assert [r["status"] for r in runs] == ["success"]


async def test_state_and_history_come_from_the_worker(api_with_worker: InProcessApi) -> None:
    http = api_with_worker.http
    tid = (await http.post("/threads", json={})).json()["thread_id"]
    await http.post(
        f"/threads/{tid}/runs/wait", json={"assistant_id": "counter", "input": {"steps": 2}}
    )
    state = (await http.get(f"/threads/{tid}/state")).json()
    assert state["values"]["count"] == 2 and state["next"] == []
    history = (await http.get(f"/threads/{tid}/history")).json()
    assert len(history) >= 3
    assert history[0]["checkpoint"]["checkpoint_id"] == state["checkpoint"]["checkpoint_id"]


async def test_a_failing_graph_is_an_error_run(api_with_worker: InProcessApi) -> None:
    http = api_with_worker.http
    tid = (await http.post("/threads", json={})).json()["thread_id"]
    response = await http.post(
        f"/threads/{tid}/runs/wait",
        json={"assistant_id": "counter", "input": {"steps": 3, "fail_at": 2}},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["__error__"]["error"] == "ValueError"
    assert "failed at step 2" in body["__error__"]["message"]
    runs = (await http.get(f"/threads/{tid}/runs")).json()
    assert [r["status"] for r in runs] == ["error"]
    assert (await http.get(f"/threads/{tid}")).json()["status"] == "error"


async def test_a_finished_stream_replays_in_order_with_increasing_ids(
    api_with_worker: InProcessApi,
) -> None:
    http = api_with_worker.http
    tid = (await http.post("/threads", json={})).json()["thread_id"]
    response = await http.post(
        f"/threads/{tid}/runs/stream",
        json={
            "assistant_id": "counter",
            "input": {"steps": 2},
            "stream_mode": ["values", "custom"],
        },
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [
        line.split(":", 1)[1].strip()
        for line in response.text.splitlines()
        if line.startswith("event:")
    ]
    assert events[0] == "metadata"
    assert events.count("custom") == 2 and "values" in events
    ids = [
        int(line.split(":", 1)[1]) for line in response.text.splitlines() if line.startswith("id:")
    ]
    assert ids == sorted(set(ids)) and len(ids) == len(events)

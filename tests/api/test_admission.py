"""Run admission in process: validation, the run row, multitask strategies, thread status."""

from __future__ import annotations

import pytest

from tests.api.conftest import InProcessApi, new_id

pytestmark = [pytest.mark.api, pytest.mark.timeout(60)]

COUNT = {"assistant_id": "counter", "input": {"steps": 1}}


async def _thread(api: InProcessApi) -> str:
    response = await api.http.post("/threads", json={})
    assert response.status_code == 200
    return str(response.json()["thread_id"])


async def test_a_run_is_admitted_pending_and_makes_the_thread_busy(api: InProcessApi) -> None:
    tid = await _thread(api)
    response = await api.http.post(f"/threads/{tid}/runs", json=COUNT)
    assert response.status_code == 200
    run = response.json()
    assert run["status"] == "pending" and run["thread_id"] == tid
    assert run["assistant_id"]  # the graph's system assistant, resolved from "counter"
    listed = (await api.http.get(f"/threads/{tid}/runs")).json()
    assert [r["run_id"] for r in listed] == [run["run_id"]]
    got = (await api.http.get(f"/threads/{tid}/runs/{run['run_id']}")).json()
    assert got["status"] == "pending"
    assert (await api.http.get(f"/threads/{tid}")).json()["status"] == "busy"


async def test_reject_refuses_a_second_run_on_a_busy_thread(api: InProcessApi) -> None:
    tid = await _thread(api)
    assert (await api.http.post(f"/threads/{tid}/runs", json=COUNT)).status_code == 200
    second = await api.http.post(
        f"/threads/{tid}/runs", json={**COUNT, "multitask_strategy": "reject"}
    )
    assert second.status_code == 409
    assert "detail" in second.json()


async def test_enqueue_admits_a_second_run_behind_the_first(api: InProcessApi) -> None:
    tid = await _thread(api)
    first = (await api.http.post(f"/threads/{tid}/runs", json=COUNT)).json()
    second = await api.http.post(
        f"/threads/{tid}/runs", json={**COUNT, "multitask_strategy": "enqueue"}
    )
    assert second.status_code == 200 and second.json()["status"] == "pending"
    runs = (await api.http.get(f"/threads/{tid}/runs")).json()
    assert {r["run_id"] for r in runs} == {first["run_id"], second.json()["run_id"]}


async def test_unknown_assistant_is_refused_and_the_thread_stays_idle(api: InProcessApi) -> None:
    tid = await _thread(api)
    unknown_uuid = await api.http.post(f"/threads/{tid}/runs", json={"assistant_id": new_id()})
    assert unknown_uuid.status_code == 404
    not_a_graph = await api.http.post(f"/threads/{tid}/runs", json={"assistant_id": "nope"})
    assert not_a_graph.status_code == 422 and not_a_graph.json()["detail"]
    assert (await api.http.get(f"/threads/{tid}")).json()["status"] == "idle"
    assert (await api.http.get(f"/threads/{tid}/runs")).json() == []


async def test_a_run_on_a_missing_thread_is_404_unless_asked_to_create_it(
    api: InProcessApi,
) -> None:
    tid = new_id()
    missing = await api.http.post(f"/threads/{tid}/runs", json=COUNT)
    assert missing.status_code == 404
    created = await api.http.post(f"/threads/{tid}/runs", json={**COUNT, "if_not_exists": "create"})
    assert created.status_code == 200 and created.json()["thread_id"] == tid
    assert (await api.http.get(f"/threads/{tid}")).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"assistant_id": 7},
        {"assistant_id": "counter", "multitask_strategy": "sometimes"},
        {"assistant_id": "counter", "stream_mode": ["values", "telepathy"]},
        {"assistant_id": "counter", "after_seconds": "soon"},
    ],
)
async def test_invalid_run_bodies_are_4xx_with_a_detail(
    api: InProcessApi, body: dict[str, object]
) -> None:
    tid = await _thread(api)
    response = await api.http.post(f"/threads/{tid}/runs", json=body)
    assert 400 <= response.status_code < 500, response.text
    assert response.json().get("detail")
    assert (await api.http.get(f"/threads/{tid}/runs")).json() == []


async def test_a_stateless_run_is_admitted_without_a_thread(api: InProcessApi) -> None:
    response = await api.http.post("/runs", json=COUNT)
    assert response.status_code == 200
    run = response.json()
    assert run["status"] == "pending" and run["run_id"]


async def test_runs_of_one_thread_can_be_listed_by_status(api: InProcessApi) -> None:
    tid = await _thread(api)
    await api.http.post(f"/threads/{tid}/runs", json=COUNT)
    pending = (await api.http.get(f"/threads/{tid}/runs", params={"status": "pending"})).json()
    done = (await api.http.get(f"/threads/{tid}/runs", params={"status": "success"})).json()
    assert len(pending) == 1 and done == []

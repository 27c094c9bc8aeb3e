"""The console's operational endpoints in process: queue, workers, runs across threads, one
run, the run inspector, ownership between two API keys, and refused input (the live feed:
test_ops_live.py)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider

from headwater.api.ops.inspect import trace_url
from headwater.api.ops.queue import queue_view
from headwater.api.ops.schemas import Queue
from headwater.common.bus.memory import InProcessBus
from headwater.common.db.models import RunRow
from headwater.common.schemas import RunRequest
from headwater.simllm.config import SimConfig
from headwater.simllm.server import serve_in_background
from tests.api.conftest import InProcessApi, in_process_api, new_id

pytestmark = [pytest.mark.api, pytest.mark.timeout(90)]


async def _run(http: httpx.AsyncClient, body: dict[str, Any], headers: Any = None) -> str:
    """Run on a new thread until it ends; its run id."""
    tid = (await http.post("/threads", json={}, headers=headers)).json()["thread_id"]
    response = await http.post(f"/threads/{tid}/runs/stream", json=body, headers=headers)
    assert response.status_code == 200, response.text
    run_id = response.headers["content-location"].rsplit("/", 1)[-1]
    return run_id


async def test_queue_in_dev_counts_the_in_process_queue(api: InProcessApi) -> None:
    queue = (await api.http.get("/queue")).json()
    assert queue["mode"] == "dev"
    assert {"pending", "ack_pending", "redelivered", "consumers"} <= set(queue)
    # The API alone takes no run: an admitted run waits in the queue.
    tid = (await api.http.post("/threads", json={})).json()["thread_id"]
    created = await api.http.post(
        f"/threads/{tid}/runs", json={"assistant_id": "counter", "input": {"steps": 1}}
    )
    assert created.status_code == 200
    after = (await api.http.get("/queue")).json()
    assert after["pending"] == queue["pending"] + 1
    metrics = (await api.http.get("/metrics")).text
    gauges = {
        line.split()[0]: float(line.split()[1])
        for line in metrics.splitlines()
        if line.startswith("headwater_queue_")
    }
    assert gauges["headwater_queue_pending_runs"] == after["pending"]
    assert gauges["headwater_queue_oldest_pending_seconds"] > 0  # the run still waits
    assert "headwater_queue_redelivered_runs" in gauges


async def test_bad_input_is_a_4xx(api: InProcessApi) -> None:
    http = api.http
    for body in ({"limit": 0}, {"limit": 1001}, {"status": "bogus"}, {"offset": -1}, {"x": 1}):
        response = await http.post("/runs/search", json=body)
        assert 400 <= response.status_code < 500, (body, response.text)
        assert "detail" in response.json()
    assert (await http.post("/runs/search", content=b"{not json")).status_code in (400, 422)
    assert (await http.get("/runs/not-a-uuid")).status_code == 422
    assert (await http.get("/runs/not-a-uuid/inspect")).status_code == 422
    assert (await http.get(f"/runs/{new_id()}")).status_code == 404
    assert (await http.get(f"/runs/{new_id()}/inspect")).status_code == 404
    assert (await http.get("/runs/live?limit=0")).status_code in (400, 422)


async def test_a_failed_run_shows_its_error(api_with_worker: InProcessApi) -> None:
    http = api_with_worker.http
    run_id = await _run(
        http,
        {
            "assistant_id": "counter",
            "input": {"steps": 3, "fail_at": 2},
            "stream_mode": ["updates"],
        },
    )
    body = (await http.get(f"/runs/{run_id}/inspect")).json()
    assert body["run"]["status"] == "error"
    assert body["run"]["error"] == "ValueError: failed at step 2"
    shown = (await http.get(f"/runs/{run_id}")).json()
    assert shown["error"] == "ValueError: failed at step 2"  # from its thread
    assert [e["event"] for e in body["events"]][-1] == "error"


async def test_a_pending_run_is_inspected_without_a_worker(api: InProcessApi) -> None:
    tid = (await api.http.post("/threads", json={})).json()["thread_id"]
    created = await api.http.post(
        f"/threads/{tid}/runs", json={"assistant_id": "counter", "input": {"steps": 1}}
    )
    body = (await api.http.get(f"/runs/{created.json()['run_id']}/inspect")).json()
    assert body["run"]["status"] == "pending" and body["run"]["started_at"] is None
    assert body["events"] == [] and body["checkpoints"] == [] and body["nodes"] == []
    assert body["input"] == {"steps": 1}


async def test_dev_lists_its_in_process_worker(api_with_worker: InProcessApi) -> None:
    workers = (await api_with_worker.http.get("/workers")).json()
    assert len(workers) == 1
    (worker,) = workers
    assert worker["status"] == "alive" and worker["pid"] > 0 and worker["host"]
    assert "counter" in worker["graphs"]
    assert worker["concurrency"]["limit"] == api_with_worker.settings.worker_concurrency
    assert worker["heartbeat_at"] >= worker["started_at"]


async def test_the_endpoints_are_in_the_openapi_schema(api: InProcessApi) -> None:
    schema = (await api.http.get("/docs/openapi.json")).json()
    paths = schema["paths"]
    for path, method in (
        ("/queue", "get"),
        ("/workers", "get"),
        ("/runs/search", "post"),
        ("/runs/{run_id}", "get"),
        ("/runs/{run_id}/inspect", "get"),
        ("/runs/live", "get"),
    ):
        assert method in paths[path], path
    components = schema["components"]["schemas"]
    live = paths["/runs/live"]["get"]["responses"]["200"]["content"]["text/event-stream"]
    assert live["schema"]["$ref"].endswith("/LiveSnapshot")
    for name in ("Queue", "Worker", "RunView", "RunSearch", "RunInspection", "LlmCall"):
        assert name in components, name
    assert set(components["RunInspection"]["properties"]) >= {"events", "nodes", "llm_calls"}


async def test_search_and_get_show_the_run_with_its_times(api_with_worker: InProcessApi) -> None:
    http = api_with_worker.http
    run_id = await _run(
        http, {"assistant_id": "counter", "input": {"steps": 2}, "metadata": {"tag": run_tag()}}
    )
    one = (await http.get(f"/runs/{run_id}")).json()
    assert one["run_id"] == run_id and one["status"] == "success"
    assert one["attempt"] == 1 and one["error"] is None
    workers = (await http.get("/workers")).json()
    assert one["worker_id"] == workers[0]["worker_id"]  # dev: the one in-process worker
    assert one["started_at"] and one["ended_at"] and one["first_token_at"] is None  # no LLM
    assert one["queued_ms"] >= 0 and one["duration_ms"] >= 0 and one["ttft_ms"] is None
    found = (
        await http.post(
            "/runs/search",
            json={"status": ["success"], "metadata": {"tag": one["metadata"]["tag"]}},
        )
    ).json()
    assert [r["run_id"] for r in found] == [run_id]
    by_thread = (await http.post("/runs/search", json={"thread_id": one["thread_id"]})).json()
    assert [r["run_id"] for r in by_thread] == [run_id]
    none = (
        await http.post("/runs/search", json={"status": "error", "thread_id": one["thread_id"]})
    ).json()
    assert none == []


_tags = iter(range(10**6))


def run_tag() -> str:
    return f"t{next(_tags)}-{new_id()[:8]}"


async def test_inspect_shows_parts_nodes_and_checkpoint_diffs(
    api_with_worker: InProcessApi,
) -> None:
    http = api_with_worker.http
    run_id = await _run(
        http,
        {
            "assistant_id": "counter",
            "input": {"steps": 3, "delay": 0.05},
            "stream_mode": ["values", "updates", "custom"],
        },
    )
    body = (await http.get(f"/runs/{run_id}/inspect")).json()
    assert body["run"]["run_id"] == run_id
    names = [e["event"] for e in body["events"]]
    assert names[0] == "metadata" and names.count("custom") == 3 and names.count("updates") == 3
    times = [e["t_ms"] for e in body["events"]]
    assert times == sorted(times) and times[-1] - times[0] >= 100  # three 50 ms steps
    assert [e["node"] for e in body["events"] if e["event"] == "updates"] == ["step"] * 3
    assert all(len(e["preview"]) <= 200 for e in body["events"])
    assert [n["node"] for n in body["nodes"]] == ["step"] * 3
    assert all(n["end_ms"] - n["start_ms"] >= 40 for n in body["nodes"])
    counts = [c["values"].get("count") for c in body["checkpoints"]]
    assert counts[-3:] == [1, 2, 3]
    last = body["checkpoints"][-1]
    assert last["diff"]["changed"]["count"] == 3 and last["diff"]["removed"] == []
    assert body["input"] == {"steps": 3, "delay": 0.05}
    assert body["llm_calls"] == [] and body["trace_url"] is None


@contextlib.asynccontextmanager
async def simulator(**options: Any) -> AsyncIterator[str]:
    server, task, port = await serve_in_background(SimConfig(**options), "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        await task


async def test_inspect_shows_the_llm_call_with_tokens_and_time_to_first_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with simulator(ttft_ms=60, token_delay_ms=2, reply_tokens=12) as sim_url:
        monkeypatch.setenv("HEADWATER_LLM_BASE_URL", sim_url)
        async with in_process_api(
            tmp_path, with_worker=True, traces_url="http://jaeger:16686/search?tags={run_id}"
        ) as served:
            run_id = await _run(
                served.http,
                {
                    "assistant_id": "agent",
                    "input": {"messages": [{"role": "user", "content": "hello"}]},
                    "stream_mode": ["messages-tuple", "values"],
                },
            )
            body = (await served.http.get(f"/runs/{run_id}/inspect")).json()
    [call] = body["llm_calls"]
    assert call["first_token_ms"] is not None
    assert call["first_token_ms"] - call["start_ms"] >= 50  # the simulator's 60 ms TTFT
    assert call["end_ms"] >= call["first_token_ms"]
    assert call["output_tokens"] and call["output_tokens"] > 0 and call["input_tokens"]
    assert call["model"] == "headwater-sim"
    assert any(n["node"] == call["node"] for n in body["nodes"])
    assert body["trace_url"] == f"http://jaeger:16686/search?tags={run_id}"
    assert any(e["event"] == "messages" and e["node"] == call["node"] for e in body["events"])
    run = body["run"]
    assert run["ttft_ms"] is not None and run["ttft_ms"] >= 50  # started → first LLM token
    assert run["first_token_at"] and run["worker_id"]


async def test_a_user_sees_only_their_own_runs(tmp_path: Path) -> None:
    async with in_process_api(
        tmp_path, with_worker=True, auth="apikey", api_keys="key-a:alice,key-b:bob"
    ) as served:
        http = served.http
        alice, bob = {"x-api-key": "key-a"}, {"x-api-key": "key-b"}
        run_id = await _run(http, {"assistant_id": "counter", "input": {"steps": 1}}, alice)
        assert (await http.get(f"/runs/{run_id}", headers=alice)).status_code == 200
        assert (await http.get(f"/runs/{run_id}", headers=bob)).status_code == 404
        assert (await http.get(f"/runs/{run_id}/inspect", headers=bob)).status_code == 404
        assert (await http.get(f"/runs/{run_id}/inspect", headers=alice)).status_code == 200
        mine = (await http.post("/runs/search", json={}, headers=alice)).json()
        theirs = (await http.post("/runs/search", json={}, headers=bob)).json()
        assert [r["run_id"] for r in mine] == [run_id] and theirs == []
        assert (await http.get("/queue")).status_code == 401
        assert (await http.post("/runs/search", json={})).status_code == 401


def test_trace_url_fills_the_trace_and_run_ids() -> None:

    traced = RunRow(run_id="r1", kwargs={"trace_id": "ab" * 16})
    untraced = RunRow(run_id="r2", kwargs={"trace_id": None})
    jaeger = "http://jaeger:16686/trace/{trace_id}"
    assert trace_url(jaeger, traced) == f"http://jaeger:16686/trace/{'ab' * 16}"
    assert trace_url(jaeger, untraced) is None  # no trace recorded: no dead link
    assert trace_url("http://j/search?tags={run_id}", untraced) == "http://j/search?tags=r2"
    assert trace_url("", traced) is None


async def test_a_traced_request_records_its_trace_on_the_run(api: InProcessApi) -> None:

    tracer = TracerProvider().get_tracer("test")
    tid = (await api.http.post("/threads", json={})).json()["thread_id"]
    with tracer.start_as_current_span("client") as span:
        # ASGITransport runs the app in this task: the request's span context is this one.
        created = await api.http.post(
            f"/threads/{tid}/runs", json={"assistant_id": "counter", "input": {"steps": 1}}
        )
    run_id = created.json()["run_id"]
    assert created.json()["kwargs"]["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert (await api.http.get(f"/runs/{run_id}")).json()["kwargs"]["trace_id"]


@pytest.mark.parametrize("mode", ["tasks", "debug"])
async def test_task_parts_give_exact_node_spans(api_with_worker: InProcessApi, mode: str) -> None:
    run_id = await _run(
        api_with_worker.http,
        {"assistant_id": "counter", "input": {"steps": 2, "delay": 0.1}, "stream_mode": [mode]},
    )
    body = (await api_with_worker.http.get(f"/runs/{run_id}/inspect")).json()
    nodes = body["nodes"]
    assert [n["node"] for n in nodes] == ["step", "step"]
    assert all(90 <= n["end_ms"] - n["start_ms"] < 1000 for n in nodes)  # the 100 ms sleeps
    assert nodes[0]["end_ms"] <= nodes[1]["start_ms"]
    part_times = {e["t_ms"] for e in body["events"] if e["event"] == mode}
    assert {e["node"] for e in body["events"] if e["event"] == mode} >= {"step"}
    for node in nodes:  # the spans are the task parts' own times, not the checkpoints'
        assert node["start_ms"] in part_times and node["end_ms"] in part_times


async def test_the_dev_queue_counts_redelivered_requests() -> None:
    bus = InProcessBus(ack_wait=30)
    await bus.start()
    try:
        request = RunRequest(run_id=new_id(), thread_id=new_id(), assistant_id="a", graph_id="g")
        await bus.submit_run(request)
        assert (await queue_view(bus)) == Queue("dev", 1, 0, 0, 1)
        (first,) = await bus.fetch_runs(1, 1.0)
        await first.nak()  # its worker gave it back: the next delivery is a redelivery
        (second,) = await bus.fetch_runs(1, 1.0)
        assert second.attempt == 2
        assert (await queue_view(bus)) == Queue("dev", 0, 1, 1, 1)
        await second.ack()
        assert (await queue_view(bus)) == Queue("dev", 0, 0, 0, 1)
    finally:
        await bus.close()

"""One trace across API → NATS → worker → graph → LLM, and metrics that move with a run."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from tests.e2e.harness import Deployment, start_cluster
from tests.services import NatsServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def traced(
    nats_server: NatsServer, pg_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Deployment, Path]]:
    folder = tmp_path_factory.mktemp("traces")
    deployment = start_cluster(
        nats_server.url,
        pg_url,
        f"otel{uuid.uuid4().hex[:8]}",
        workers=1,
        process_env={
            "api": {"HEADWATER_TRACE_FILE": str(folder / "api.jsonl")},
            "worker0": {"HEADWATER_TRACE_FILE": str(folder / "worker.jsonl")},
            "memory": {"HEADWATER_TRACE_FILE": str(folder / "memory.jsonl")},
        },
    )
    yield deployment, folder
    deployment.stop()


def spans_of(folder: Path) -> list[dict[str, Any]]:
    spans = []
    for file in folder.glob("*.jsonl"):
        spans += [json.loads(line) for line in file.read_text().splitlines() if line]
    return spans


async def test_one_trace_spans_every_hop(traced: tuple[Deployment, Path]) -> None:
    deployment, folder = traced
    client = get_client(url=deployment.base_url)
    thread = await client.threads.create()
    parts = [
        p
        async for p in client.runs.stream(
            thread["thread_id"],
            "agent",
            input={"messages": [{"role": "user", "content": "hello"}]},
            stream_mode="messages-tuple",
        )
    ]
    run_id = parts[0].data["run_id"]

    deadline = time.monotonic() + 10
    while True:
        spans = spans_of(folder)
        ours = [s for s in spans if s["attributes"].get("headwater.run_id") == run_id]
        if len({s["name"].split(" ")[-1] for s in ours}) >= 2 and any(
            s["kind"] == "SERVER" and "runs/stream" in s["name"] for s in spans
        ):
            break
        assert time.monotonic() < deadline, f"spans did not arrive: {[s['name'] for s in spans]}"
        time.sleep(0.2)

    publish = next(s for s in ours if s["kind"] == "PRODUCER")
    trace_id = publish["trace_id"]
    in_trace = {s["span_id"]: s for s in spans if s["trace_id"] == trace_id}
    by_kind = {}
    for span in in_trace.values():
        by_kind.setdefault(span["kind"], []).append(span)

    server = next(s for s in by_kind["SERVER"] if s["service"] == "headwater-api")
    consumer = next(s for s in by_kind["CONSUMER"])
    graph = next(s for s in in_trace.values() if s["name"] == "graph agent")
    node = next(s for s in in_trace.values() if s["name"] == "node chat")
    llm = next(s for s in by_kind["CLIENT"] if s["name"].startswith("chat "))

    def ancestors(span: dict[str, Any]) -> list[str]:
        chain = []
        while span["parent_id"] in in_trace:
            span = in_trace[span["parent_id"]]
            chain.append(span["span_id"])
        return chain

    assert server["span_id"] in ancestors(publish), "the publish happens inside the HTTP request"
    assert consumer["parent_id"] == publish["span_id"], (
        "the worker continues the producer's context"
    )
    assert graph["parent_id"] == consumer["span_id"]
    assert node["parent_id"] == graph["span_id"]
    assert llm["parent_id"] == node["span_id"]
    assert (
        publish["attributes"]["messaging.system"]
        == consumer["attributes"]["messaging.system"]
        == "nats"
    )
    assert publish["attributes"]["messaging.operation.type"] == "publish"
    assert consumer["attributes"]["messaging.operation.type"] == "process"
    assert consumer["attributes"]["messaging.destination.name"].endswith(".runs.requests")
    assert llm["attributes"]["gen_ai.request.model"] == "headwater-sim"
    assert (
        llm["attributes"]["gen_ai.usage.output_tokens"] > 0
        and llm["attributes"]["gen_ai.usage.input_tokens"] > 0
    )
    assert llm["attributes"]["gen_ai.response.time_to_first_token"] > 0
    assert graph["attributes"]["headwater.events_published"] == len(parts) - 1, (
        "tokens counted on the run span"
    )
    assert not any(s["name"].startswith("token") for s in in_trace.values())
    assert server["service"] != consumer["service"]


def wait_for_spans(folder: Path, found: Any, what: str) -> list[dict[str, Any]]:
    """Spans, once ``found(spans)`` holds (span files are appended as spans end)."""
    deadline = time.monotonic() + 10
    while True:
        spans = spans_of(folder)
        if found(spans):
            return spans
        assert time.monotonic() < deadline, f"no {what}: {[s['name'] for s in spans]}"
        time.sleep(0.2)


def parent_of(span: dict[str, Any], spans: list[dict[str, Any]]) -> dict[str, Any]:
    return next(s for s in spans if s["span_id"] == span["parent_id"])


async def test_store_calls_join_the_callers_trace(traced: tuple[Deployment, Path]) -> None:
    deployment, folder = traced
    client = get_client(url=deployment.base_url)
    key = uuid.uuid4().hex
    await client.store.put_item(["traced"], key, {"text": "a traced note"})

    def memory_put(spans: list[dict[str, Any]]) -> bool:
        """The memory service's span and the API's server span of its trace are written
        (each process writes its spans when they end: the API's request ends last)."""
        served = [
            s
            for s in spans
            if s["service"] == "headwater-memory" and s["name"] == "PUT /store/items"
        ]
        return any(
            s["service"] == "headwater-api" and s["kind"] == "SERVER"
            for s in spans
            if served and s["trace_id"] == served[0]["trace_id"]
        )

    spans = wait_for_spans(folder, memory_put, "memory and API server spans for the put")
    served = next(
        s for s in spans if s["service"] == "headwater-memory" and s["name"] == "PUT /store/items"
    )
    assert served["kind"] == "SERVER"
    forward = parent_of(served, spans)
    assert (forward["service"], forward["kind"]) == ("headwater-api", "CLIENT")
    assert forward["attributes"]["http.response.status_code"] == 204
    api = parent_of(forward, spans)
    assert (api["service"], api["kind"]) == ("headwater-api", "SERVER")
    assert api["trace_id"] == forward["trace_id"] == served["trace_id"]

    thread = await client.threads.create()
    await client.runs.wait(thread["thread_id"], "memo", input={"remember": "traced"})

    def worker_batch(spans: list[dict[str, Any]]) -> bool:
        return any(
            s["service"] == "headwater-memory" and s["name"] == "POST /store/batch" for s in spans
        )

    spans = wait_for_spans(folder, worker_batch, "memory server span for a worker batch")
    batch = next(
        s for s in spans if s["service"] == "headwater-memory" and s["name"] == "POST /store/batch"
    )
    call = parent_of(batch, spans)
    assert (call["service"], call["kind"], call["name"]) == (
        "headwater-worker",
        "CLIENT",
        "POST /store/batch",
    )
    assert call["attributes"]["headwater.store.ops"] == 1
    assert call["parent_id"], "the store call has the run's context"
    spans = wait_for_spans(
        folder, lambda spans: any(s["name"] == "graph memo" for s in spans), "graph span"
    )
    chain = [call]
    while chain[-1]["parent_id"] in {s["span_id"] for s in spans}:
        chain.append(parent_of(chain[-1], spans))
    names = [s["name"] for s in chain]
    assert "graph memo" in names, f"the store call happens inside the run: {names}"
    assert chain[-1]["service"] == "headwater-api", "one trace from the API's request"


def scrape(url: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for line in httpx.get(url, timeout=5).text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


async def test_metrics_move_with_a_run(traced: tuple[Deployment, Path]) -> None:
    deployment, _ = traced
    worker_metrics = f"http://127.0.0.1:{deployment.metrics_ports['worker0']}/metrics"
    api_before, worker_before = scrape(deployment.base_url + "/metrics"), scrape(worker_metrics)
    client = get_client(url=deployment.base_url)
    await client.runs.wait(
        None, "agent", input={"messages": [{"role": "user", "content": "hello"}]}
    )
    api_after, worker_after = scrape(deployment.base_url + "/metrics"), scrape(worker_metrics)

    def moved(before: dict[str, float], after: dict[str, float], name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    assert moved(api_before, api_after, "headwater_runs_created_total") == 1
    assert (
        moved(
            api_before,
            api_after,
            'headwater_http_requests_total{method="POST",route="/runs/wait",status="200"}',
        )
        == 1
    )
    assert (
        moved(worker_before, worker_after, 'headwater_runs_finished_total{status="success"}') == 1
    )
    assert (
        moved(worker_before, worker_after, "headwater_llm_time_to_first_token_seconds_count") == 1
    )
    assert moved(worker_before, worker_after, "headwater_llm_inter_token_seconds_count") >= 5
    assert api_after["headwater_queue_pending_runs"] == 0
    assert worker_after["headwater_worker_concurrency"] == 4
    assert api_after['headwater_active_streams{kind="sse"}'] == 0, (
        "the earlier stream was counted and closed"
    )


async def test_worker_log_lines_carry_run_thread_and_trace_ids(
    traced: tuple[Deployment, Path],
) -> None:
    deployment, _ = traced
    client = get_client(url=deployment.base_url)
    thread = await client.threads.create()
    result = await client.runs.wait(
        thread["thread_id"], "counter", input={"steps": 2, "fail_at": 1}, raise_error=False
    )
    assert result["__error__"]["error"] == "ValueError"
    run_id = (await client.runs.list(thread["thread_id"]))[0]["run_id"]
    lines = [
        json.loads(line)
        for line in deployment.log_of("worker0").splitlines()
        if line.startswith("{")
    ]
    ours = [line for line in lines if line.get("run_id") == run_id]
    assert ours, "the worker logged the failed run"
    for line in ours:
        assert line["thread_id"] == thread["thread_id"] and len(line["trace_id"]) == 32
        assert {"time", "level", "logger", "message"} <= line.keys()


def test_worker_health_endpoints(traced: tuple[Deployment, Path]) -> None:
    deployment, _ = traced
    base = f"http://127.0.0.1:{deployment.metrics_ports['worker0']}"
    assert httpx.get(base + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(base + "/readyz")
    assert ready.status_code == 200 and ready.json() == {
        "status": "ok",
        "checks": {"bus": "ok", "database": "ok", "graphs": "ok"},
    }
    assert httpx.get(base + "/nope").status_code == 404

"""The console's endpoints over real HTTP in cluster mode (NATS JetStream, PostgreSQL, two
workers): both workers listed, a run pushed on ``/runs/live`` while it streams, the queue from
JetStream, and the inspector of the finished run."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from tests.e2e.harness import Deployment

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


async def _sse(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    event = ""
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            yield event, json.loads(line.split(":", 1)[1])


async def test_two_workers_are_listed(cluster_deployment: Deployment) -> None:
    async with httpx.AsyncClient(base_url=cluster_deployment.base_url, timeout=30) as http:
        workers: list[dict[str, Any]] = []
        for _ in range(100):  # both have beaten at least once since they became ready
            workers = (await http.get("/workers")).json()
            if len([w for w in workers if w["status"] == "alive"]) >= 2:
                break
            await asyncio.sleep(0.1)
    alive = [w for w in workers if w["status"] == "alive"]
    assert len(alive) == 2, workers
    pids = set(cluster_deployment.worker_pids().values())
    assert {w["pid"] for w in alive} == pids
    for worker in alive:
        assert "counter" in worker["graphs"] and worker["concurrency"]["limit"] == 4
        assert worker["heartbeat_at"] >= worker["started_at"]


async def test_a_run_appears_on_the_live_feed_while_it_streams(
    cluster_deployment: Deployment,
) -> None:
    base = cluster_deployment.base_url
    client = get_client(url=base)
    thread = await client.threads.create()
    seen_while_streaming: list[dict[str, Any]] = []
    async with (
        httpx.AsyncClient(base_url=base, timeout=60) as http,
        http.stream("GET", "/runs/live?limit=20") as live,
    ):
        assert live.status_code == 200
        events = _sse(live)
        kind, snapshot = await anext(events)
        assert kind == "snapshot" and snapshot["queue"]["mode"] == "nats"
        assert len(snapshot["workers"]) >= 2

        streamed: list[Any] = []
        finished = asyncio.Event()

        async def stream_run() -> None:
            async for part in client.runs.stream(
                thread["thread_id"],
                "counter",
                input={"steps": 6, "delay": 0.5},
                stream_mode=["custom"],
            ):
                streamed.append(part)
            finished.set()

        streaming = asyncio.create_task(stream_run())
        try:
            async with asyncio.timeout(60):
                async for kind, data in events:
                    if kind == "run" and data["thread_id"] == thread["thread_id"]:
                        if not finished.is_set():
                            seen_while_streaming.append(data)
                        if data["status"] == "running" and not finished.is_set():
                            break
            await streaming
        finally:
            streaming.cancel()
    assert seen_while_streaming, "the run never appeared on /runs/live while it streamed"
    running = seen_while_streaming[-1]
    assert running["status"] == "running" and running["worker_id"]
    assert len([p for p in streamed if p.event == "custom"]) == 6  # the stream went on

    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        run = (await http.get(f"/runs/{running['run_id']}")).json()
        assert run["status"] == "success" and run["worker_id"] == running["worker_id"]
        assert run["duration_ms"] >= 2500 and run["queued_ms"] is not None
        queue = (await http.get("/queue")).json()
        assert queue["mode"] == "nats" and queue["consumers"] >= 1
        inspection = (await http.get(f"/runs/{run['run_id']}/inspect")).json()
    customs = [e for e in inspection["events"] if e["event"] == "custom"]
    assert len(customs) == 6 and customs[-1]["t_ms"] - customs[0]["t_ms"] >= 2000
    assert [n["node"] for n in inspection["nodes"]].count("step") == 6


async def test_the_inspector_shows_the_llm_call_of_a_run(cluster_deployment: Deployment) -> None:
    client = get_client(url=cluster_deployment.base_url)
    thread = await client.threads.create()
    async for _part in client.runs.stream(
        thread["thread_id"],
        "agent",
        input={"messages": [{"role": "user", "content": "hello"}]},
        stream_mode=["messages-tuple", "values"],
    ):
        pass
    runs = await client.runs.list(thread["thread_id"])
    async with httpx.AsyncClient(base_url=cluster_deployment.base_url, timeout=30) as http:
        inspection = (await http.get(f"/runs/{runs[0]['run_id']}/inspect")).json()
    assert inspection["run"]["status"] == "success"
    [call] = inspection["llm_calls"]
    assert call["first_token_ms"] is not None and call["output_tokens"] > 0
    assert call["node"] in {n["node"] for n in inspection["nodes"]}
    assert inspection["checkpoints"] and inspection["checkpoints"][-1]["diff"]["changed"]

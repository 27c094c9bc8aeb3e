"""The thread-level stream (``GET /threads/{id}/stream``) with langgraph-sdk, dev and cluster."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.schema import StreamPart

from tests.e2e.harness import Deployment

pytestmark = [pytest.mark.e2e, pytest.mark.k8s_local, pytest.mark.timeout(90)]


@pytest.fixture
def client(deployment: Deployment) -> LangGraphClient:
    return get_client(url=deployment.base_url)


def run_done(part: StreamPart) -> str | None:
    if part.event == "metadata" and part.data.get("status") == "run_done":
        return str(part.data["run_id"])
    return None


async def collect_until(
    parts: AsyncIterator[StreamPart], done_runs: int = 0, last_run: str = "", timeout: float = 30.0
) -> list[StreamPart]:
    """Read a thread stream until ``done_runs`` runs (or ``last_run``) ended; it never ends."""
    seen: list[StreamPart] = []
    async with asyncio.timeout(timeout):
        async for part in parts:
            seen.append(part)
            ended = [r for p in seen if (r := run_done(p))]
            if (last_run and last_run in ended) or (done_runs and len(ended) == done_runs):
                break
    return seen


async def test_thread_stream_follows_every_run_and_resumes_exactly(
    client: LangGraphClient,
) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    stream = await client.threads.join_stream(tid, stream_mode=["run_modes", "state_update"])
    reading = asyncio.create_task(collect_until(stream, done_runs=2))
    await asyncio.sleep(0.5)  # the viewer is connected before the runs start
    first = await client.runs.create(tid, "counter", input={"steps": 2}, stream_mode=["values"])
    second = await client.runs.create(
        tid, "counter", input={"steps": 1, "label": "again"}, stream_mode=["updates"]
    )
    live = await reading

    starts = [p.data["run_id"] for p in live if p.event == "metadata" and "attempt" in p.data]
    assert starts == [first["run_id"], second["run_id"]]
    assert [run_done(p) for p in live if run_done(p)] == [first["run_id"], second["run_id"]]
    names = [p.event for p in live]
    first_done = names.index("metadata", 1)  # first run's events, then its run_done
    assert set(names[1:first_done]) == {"values"}
    assert "updates" in names[first_done:]
    ids = [int(p.id) for p in live if p.id]
    assert len(ids) == len(live) and ids == sorted(ids) and len(set(ids)) == len(ids)

    await client.threads.update_state(tid, {"count": 10}, as_node="step")
    full = await collect_until(
        await client.threads.join_stream(tid, last_event_id="-"), done_runs=2
    )
    assert [(p.event, p.data, p.id) for p in full] == [(p.event, p.data, p.id) for p in live]

    cut = live[len(live) // 2]
    resumed = await collect_until(
        await client.threads.join_stream(tid, last_event_id=cut.id), last_run=second["run_id"]
    )
    assert [p.id for p in resumed] == [p.id for p in live if int(p.id or 0) > int(cut.id or 0)]


async def test_thread_stream_carries_state_updates(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    await client.runs.wait(tid, "counter", input={"steps": 1})
    parts = await client.threads.join_stream(tid, stream_mode="state_update")
    got: asyncio.Task[StreamPart] = asyncio.create_task(anext(aiter(parts)))
    await asyncio.sleep(0.5)
    await client.threads.update_state(tid, {"count": 41}, as_node="step")
    async with asyncio.timeout(15):
        part = await got
    assert part.event == "state_update" and part.data["thread_id"] == tid
    assert part.data["state"]["values"]["count"] == 41 and part.id


async def test_a_viewer_joining_mid_run_gets_the_whole_run(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(
        tid, "counter", input={"steps": 3, "delay": 0.3}, stream_mode=["custom"]
    )
    await asyncio.sleep(0.7)  # the run is past its first step
    parts = await collect_until(await client.threads.join_stream(tid, stream_mode="run_modes"), 1)
    assert parts[0].event == "metadata" and parts[0].data["run_id"] == run["run_id"]
    assert [p.data["progress"] for p in parts if p.event == "custom"] == [1, 2, 3]
    lifecycle = await collect_until(
        await client.threads.join_stream(tid, last_event_id="-", stream_mode="lifecycle"), 1
    )
    assert [p.event for p in lifecycle] == ["metadata", "metadata"]


async def test_thread_stream_refuses_bad_input(deployment: Deployment) -> None:
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=10) as http:
        thread: dict[str, Any] = (await http.post("/threads", json={})).json()
        tid = thread["thread_id"]
        bad_mode = await http.get(f"/threads/{tid}/stream", params={"stream_mode": "tokens"})
        assert bad_mode.status_code == 422 and "tokens" in bad_mode.json()["detail"]
        bad_id = await http.get(f"/threads/{tid}/stream", headers={"Last-Event-ID": "x y"})
        assert bad_id.status_code in (400, 422)
        huge = await http.get(f"/threads/{tid}/stream", headers={"Last-Event-ID": "9" * 30})
        assert huge.status_code == 422 and "Last-Event-ID" in huge.json()["detail"]
        missing = await http.get("/threads/00000000-0000-0000-0000-000000000000/stream")
        assert missing.status_code == 404
        not_uuid = await http.get("/threads/nope/stream")
        assert not_uuid.status_code == 422

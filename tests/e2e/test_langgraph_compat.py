"""Where clients written elsewhere found Headwater differing from ``langgraph dev`` (issue 13).

One test per point, each checked against langgraph-api 0.16.7's behaviour (captured from
``langgraph dev`` on the same graphs): runtime context, ``Last-Event-ID: -1``, keep-alives on
``/wait``, ``/join`` and filtered join streams, graph factories, cancel, and ``/info``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.e2e.harness import Deployment

pytestmark = [pytest.mark.e2e, pytest.mark.k8s_local, pytest.mark.timeout(120)]
KEEP_ALIVE_GAP_S = 8.0
"""langgraph-api writes a keep-alive every 5 s; a gap this long means none was written."""


@pytest.fixture
def client(deployment: Deployment) -> LangGraphClient:
    return get_client(url=deployment.base_url)


async def seen_by(client: LangGraphClient, assistant_id: str, **kwargs: Any) -> dict[str, Any]:
    result = await client.runs.wait(None, assistant_id, input={}, **kwargs)
    assert isinstance(result, dict) and "seen" in result, result
    seen: dict[str, Any] = result["seen"]
    return seen


async def test_runtime_context_gets_schema_defaults_and_the_assistants_context(
    client: LangGraphClient,
) -> None:
    # No context at all: the context_schema's defaults (langgraph-api passes {}), not None.
    seen = await seen_by(client, "context")
    default = {"type": "ModelContext", "model": "default-model", "temperature": 0.5}
    assert seen["context"] == default
    seen = await seen_by(client, "context", context={"model": "requested"})
    assert seen["context"] == {**default, "model": "requested"}
    assert seen["configurable"]["model"] == "requested"  # mirrored into configurable

    # The assistant's context under the request's; keys the schema lacks are dropped.
    assistant = await client.assistants.create(
        "context", context={"model": "assistant-model"}, metadata={"team": "a"}, name="ctx"
    )
    aid = assistant["assistant_id"]
    seen = await seen_by(client, aid, context={"temperature": 0.9, "not_in_schema": 1})
    assert seen["context"] == {**default, "model": "assistant-model", "temperature": 0.9}
    assert seen["configurable"]["model"] == "assistant-model"  # mirrored, as langgraph-api
    assert seen["metadata"]["team"] == "a"
    assert seen["metadata"]["assistant_id"] == aid

    seen = await seen_by(client, aid)
    assert seen["context"] == {**default, "model": "assistant-model"}
    # Without a context, the request's configurable is the request's part of the context.
    seen = await seen_by(client, aid, config={"configurable": {"temperature": 0.1, "x": "y"}})
    assert seen["context"] == {**default, "model": "assistant-model", "temperature": 0.1}
    assert seen["configurable"]["x"] == "y"

    # An assistant configured through config: configurable, tags and limits all arrive.
    configured = await client.assistants.create(
        "context",
        config={"configurable": {"model": "configured"}, "tags": ["t1"], "recursion_limit": 7},
    )
    seen = await seen_by(client, configured["assistant_id"])
    assert seen["context"] == {**default, "model": "configured"}
    assert "t1" in seen["tags"]
    assert seen["recursion_limit"] == 7


async def test_join_stream_with_last_event_id_minus_one_replays_the_whole_run(
    client: LangGraphClient, deployment: Deployment
) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(
        tid, "counter", input={"steps": 4, "delay": 0.4}, stream_mode=["values", "custom"]
    )
    rid = run["run_id"]
    await asyncio.sleep(1.0)  # the run is under way: events were published before we join
    parts = [
        part
        async for part in client.runs.join_stream(tid, rid, last_event_id="-1")
        if part.event != "end"
    ]
    assert parts[0].event == "metadata" and parts[0].data["run_id"] == rid
    progress = [p.data["progress"] for p in parts if p.event == "custom"]
    assert progress == [1, 2, 3, 4]
    assert [p.data.get("count") for p in parts if p.event == "values"] == [None, 1, 2, 3, 4]

    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=30) as http:
        # Once the run is over, -1 still replays all of it.
        response = await http.get(
            f"/threads/{tid}/runs/{rid}/stream", headers={"Last-Event-ID": "-1"}
        )
        assert response.status_code == 200
        assert response.text.startswith("event: metadata\r\n")
        assert response.text.count("event: custom\r\n") == 4
        # The thread stream refuses -1, as langgraph-api does (a Redis stream id or "-").
        response = await http.get(f"/threads/{tid}/stream", headers={"Last-Event-ID": "-1"})
        assert response.status_code == 422


async def write_times(
    http: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> tuple[list[tuple[float, bytes]], float]:
    """Every chunk of a response with when it arrived, and when the response ended."""
    start = time.monotonic()
    chunks: list[tuple[float, bytes]] = []
    async with http.stream(method, url, **kwargs) as response:
        assert response.status_code == 200, await response.aread()
        async for chunk in response.aiter_raw():
            chunks.append((time.monotonic() - start, chunk))
    return chunks, time.monotonic() - start


def longest_silence(chunks: list[tuple[float, bytes]], ended: float) -> float:
    times = [0.0, *(t for t, _ in chunks), ended]
    return max(b - a for a, b in itertools.pairwise(times))


async def test_wait_join_and_filtered_join_stream_keep_alive_every_5s_while_events_flow(
    client: LangGraphClient, deployment: Deployment
) -> None:
    slow = {"steps": 12, "delay": 1.0}  # an event every second for 12 s
    threads = [(await client.threads.create())["thread_id"] for _ in range(3)]
    wait_tid, join_tid, stream_tid = threads
    joined = await client.runs.create(join_tid, "counter", input=slow, stream_mode=["custom"])
    streamed = await client.runs.create(
        stream_tid, "counter", input=slow, stream_mode=["values", "custom"]
    )
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=60) as http:
        waited, join, filtered = await asyncio.gather(
            write_times(
                http,
                "POST",
                f"/threads/{wait_tid}/runs/wait",
                json={"assistant_id": "counter", "input": slow, "stream_mode": ["custom"]},
            ),
            write_times(http, "GET", f"/threads/{join_tid}/runs/{joined['run_id']}/join"),
            write_times(
                http,
                "GET",
                f"/threads/{stream_tid}/runs/{streamed['run_id']}/stream",
                params={"stream_mode": "updates"},  # the run streams none: all filtered out
            ),
        )
    for chunks, ended in (waited, join):
        body = b"".join(c for _, c in chunks)
        assert json.loads(body)["count"] == 12
        assert body.startswith(b"\n\n"), body[:20]  # at 5 s and 10 s, while events flowed
        assert longest_silence(chunks, ended) < KEEP_ALIVE_GAP_S, chunks
    chunks, ended = filtered
    text = b"".join(c for _, c in chunks)
    assert text.count(b": heartbeat\r\n\r\n") >= 2, text
    assert b"event: custom" not in text and b"event: values" not in text
    assert longest_silence(chunks, ended) < KEEP_ALIVE_GAP_S, chunks


async def test_graph_factories_context_manager_per_run_and_server_runtime(
    client: LangGraphClient, tmp_path: Path
) -> None:
    log = tmp_path / "factory.log"
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(
        tid, "context_manager", input={}, config={"configurable": {"factory_log": str(log)}}
    )
    result = await client.runs.join(tid, run["run_id"])
    assert result == {"resource_open": True}  # the factory's context was entered for the run
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # and left once the run ended
        lines = log.read_text().splitlines() if log.exists() else []
        if f"exit {run['run_id']}" in lines:
            break
        await asyncio.sleep(0.1)
    assert lines == [f"enter {run['run_id']}", f"exit {run['run_id']}"]
    state = await client.threads.get_state(tid)  # reading state opens the factory too
    assert state["values"] == {"resource_open": True}

    result = await client.runs.wait(None, "runtime_factory", input={}, context={"model": "m"})
    assert isinstance(result, dict)
    report = result["factory"]
    assert report["access_context"] == "threads.create_run"
    assert report["context"] == {"model": "m"}
    assert report["run_id"]


async def running(client: LangGraphClient, tid: str, rid: str) -> None:
    async with asyncio.timeout(30):
        while (await client.runs.get(tid, rid))["status"] != "running":
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # inside a step


async def test_cancel_reads_interrupted_at_once_and_wait_answers_200_once_stopped(
    client: LangGraphClient, deployment: Deployment
) -> None:
    slow = {"steps": 20, "delay": 1.0}
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=30) as http:
        tid = (await client.threads.create())["thread_id"]
        run = await client.runs.create(tid, "counter", input=slow)
        await running(client, tid, run["run_id"])
        response = await http.post(f"/threads/{tid}/runs/{run['run_id']}/cancel")
        assert response.status_code == 202 and response.content == b""
        assert (await client.runs.get(tid, run["run_id"]))["status"] == "interrupted"

        tid = (await client.threads.create())["thread_id"]
        run = await client.runs.create(tid, "counter", input=slow)
        await running(client, tid, run["run_id"])
        base = f"/threads/{tid}/runs/{run['run_id']}"
        response = await http.post(f"{base}/cancel", params={"wait": 1})
        assert response.status_code == 200
        assert json.loads(response.content) == {}
        assert response.headers["location"] == f"{base}/join"
        assert response.headers["content-location"] == base
        assert (await client.runs.get(tid, run["run_id"]))["status"] == "interrupted"
        thread = await client.threads.get(tid)
        assert thread["status"] == "interrupted"  # stopped between steps: its next step waits
        assert thread["values"].get("count", 0) < 20
        again = await http.post(f"{base}/cancel")  # a stopped run has nothing to cancel
        assert again.status_code == 404
        assert again.json()["detail"].startswith("No matching runs to cancel. Please verify")


async def test_info_flags_say_what_is_served(deployment: Deployment) -> None:
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=30) as http:
        info = (await http.get("/info")).json()
        assert info["flags"]["assistants"] is True
        assert info["flags"]["crons"] is True
        assert (await http.post("/runs/crons/search", json={})).status_code == 200
        assert (await http.post("/assistants/search", json={})).status_code == 200

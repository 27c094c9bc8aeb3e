"""The LangGraph Server API through the official langgraph-sdk, black box over HTTP."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.e2e.harness import Deployment

pytestmark = [pytest.mark.e2e, pytest.mark.k8s_local, pytest.mark.timeout(90)]


@pytest.fixture
def client(deployment: Deployment) -> LangGraphClient:
    return get_client(url=deployment.base_url)


def human(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def test_stream_values_updates_messages(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    parts = [
        part
        async for part in client.runs.stream(
            thread["thread_id"],
            "agent",
            input=human("hello there"),
            stream_mode=["values", "updates", "messages-tuple"],
        )
    ]
    events = [p.event for p in parts]
    assert events[0] == "metadata"
    assert parts[0].data["attempt"] == 1 and uuid.UUID(parts[0].data["run_id"])
    assert {"values", "updates", "messages"} <= set(events)
    ids = [int(p.id) for p in parts if p.id is not None]
    assert len(ids) == len(parts) and ids == sorted(set(ids)), "ids unique and strictly increasing"

    tokens = [p.data for p in parts if p.event == "messages"]
    chunk, metadata = tokens[0]
    assert chunk["type"] == "AIMessageChunk" and metadata["langgraph_node"] == "chat"
    streamed = "".join(c["content"] for c, _ in tokens)
    assert len({c["id"] for c, _ in tokens}) == 1

    final = [p.data for p in parts if p.event == "values"][-1]
    assert [m["type"] for m in final["messages"]] == ["human", "ai"]
    assert final["messages"][1]["content"] == streamed == "Hello! I am the Headwater simulator."
    updates = [p.data for p in parts if p.event == "updates"]
    assert updates[-1]["chat"]["messages"][0]["content"] == streamed

    state = await client.threads.get_state(thread["thread_id"])
    assert [m["type"] for m in state["values"]["messages"]] == ["human", "ai"]
    assert state["values"]["messages"][0]["content"] == "hello there"
    assert state["next"] == [] and state["checkpoint"]["thread_id"] == thread["thread_id"]
    got = await client.threads.get(thread["thread_id"])
    assert got["status"] == "idle" and got["values"]["messages"][1]["content"] == streamed
    assert got["metadata"]["graph_id"] == "agent"


async def test_tool_call_runs_the_tool(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    result = await client.runs.wait(
        thread["thread_id"], "agent", input=human("please calculate 6*7")
    )
    types = [m["type"] for m in result["messages"]]
    assert types == ["human", "ai", "tool", "ai"]
    assert result["messages"][1]["tool_calls"][0]["name"] == "calculator"
    assert result["messages"][2]["content"] == "42"
    assert "42" in result["messages"][3]["content"]


async def test_background_run_and_join(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    run = await client.runs.create(
        thread["thread_id"], "counter", input={"steps": 3, "delay": 0.05}
    )
    assert run["status"] == "pending" and run["thread_id"] == thread["thread_id"]
    result = await client.runs.join(thread["thread_id"], run["run_id"])
    assert result["count"] == 3 and result["log"] == ["step 1", "step 2", "step 3"]
    done = await client.runs.get(thread["thread_id"], run["run_id"])
    assert done["status"] == "success"
    runs = await client.runs.list(thread["thread_id"])
    assert [r["run_id"] for r in runs] == [run["run_id"]]


async def test_stateless_wait_and_stream(client: LangGraphClient) -> None:
    result = await client.runs.wait(None, "counter", input={"steps": 2})
    assert result["log"] == ["step 1", "step 2"]
    parts = [
        p
        async for p in client.runs.stream(None, "counter", input={"steps": 2}, stream_mode="custom")
    ]
    assert [p.data["progress"] for p in parts if p.event == "custom"] == [1, 2]


async def test_failed_run_reports_error(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    parts = [
        p
        async for p in client.runs.stream(
            thread["thread_id"], "counter", input={"steps": 3, "fail_at": 2}, stream_mode="updates"
        )
    ]
    assert parts[-1].event == "error"
    assert parts[-1].data == {"error": "ValueError", "message": "failed at step 2"}
    runs = await client.runs.list(thread["thread_id"])
    assert runs[0]["status"] == "error"
    got = await client.threads.get(thread["thread_id"])
    assert got["status"] == "error" and got["error"]["error"] == "ValueError"


async def test_cancel_slow_run(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    run = await client.runs.create(
        thread["thread_id"], "counter", input={"steps": 200, "delay": 0.05}
    )
    for _ in range(200):  # until a few steps are checkpointed
        state = await client.threads.get_state(thread["thread_id"])
        if len(state["values"].get("log", [])) >= 2:
            break
        await asyncio.sleep(0.05)
    await client.runs.cancel(thread["thread_id"], run["run_id"], wait=True)
    done = await client.runs.get(thread["thread_id"], run["run_id"])
    assert done["status"] == "interrupted"
    state = await client.threads.get_state(thread["thread_id"])
    assert 2 <= len(state["values"]["log"]) < 200
    assert (await client.threads.get(thread["thread_id"]))["status"] in ("idle", "interrupted")


async def test_join_stream_replays_after_last_event_id(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    parts = [
        p
        async for p in client.runs.stream(
            thread["thread_id"], "counter", input={"steps": 4}, stream_mode=["custom", "values"]
        )
    ]
    run_id = parts[0].data["run_id"]
    full = [
        p async for p in client.runs.join_stream(thread["thread_id"], run_id, last_event_id="-")
    ]
    assert [(p.event, p.data, p.id) for p in full] == [(p.event, p.data, p.id) for p in parts]
    customs = [
        p
        async for p in client.runs.join_stream(
            thread["thread_id"], run_id, last_event_id="-", stream_mode="custom"
        )
    ]
    assert [p.event for p in customs] == ["metadata"] + ["custom"] * 4
    cut = 3
    tail = [
        p
        async for p in client.runs.join_stream(
            thread["thread_id"], run_id, last_event_id=parts[cut].id
        )
    ]
    assert [(p.event, p.id) for p in tail] == [(p.event, p.id) for p in parts[cut + 1 :]]


async def test_runs_on_many_threads(deployment: Deployment, client: LangGraphClient) -> None:
    threads = [await client.threads.create() for _ in range(12)]

    async def one(thread: dict[str, Any]) -> set[int]:
        parts = [
            p
            async for p in client.runs.stream(
                thread["thread_id"],
                "counter",
                input={"steps": 3, "delay": 0.1},
                stream_mode="custom",
            )
        ]
        return {p.data["pid"] for p in parts if p.event == "custom"}

    pids = set().union(*await asyncio.gather(*(one(t) for t in threads)))
    for thread in threads:
        state = await client.threads.get_state(thread["thread_id"])
        assert state["values"]["log"] == ["step 1", "step 2", "step 3"]
    if deployment.kind == "cluster":
        workers = deployment.worker_pids()
        assert len(workers) == 2, f"both workers alive: {workers}"
        assert pids == set(workers.values()), "runs spread over both workers"


async def test_errors_are_clear(deployment: Deployment, client: LangGraphClient) -> None:
    async with httpx.AsyncClient(base_url=deployment.base_url) as http:
        missing = str(uuid.uuid4())
        r = await http.get(f"/threads/{missing}")
        assert r.status_code == 404 and "not found" in r.json()["detail"]
        r = await http.get("/threads/not-a-uuid")
        assert r.status_code == 422 and "UUID" in r.json()["detail"]
        r = await http.post(f"/threads/{missing}/runs", json={"assistant_id": "agent"})
        assert r.status_code == 404 and r.json() == {"detail": "Thread or assistant not found."}
        r = await http.post("/runs/wait", json={"assistant_id": "nope"})
        assert r.status_code == 422 and "nope" in r.json()["detail"]
        r = await http.post("/runs/wait", json={"input": {}})
        assert r.status_code == 422
        r = await http.post(
            "/runs/wait", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert 400 <= r.status_code < 500
        r = await http.post(
            "/runs/stream", json={"assistant_id": "agent", "stream_mode": ["bogus"]}
        )
        assert r.status_code == 422 and "bogus" in r.json()["detail"]
        thread = await client.threads.create()
        r = await http.get(f"/threads/{thread['thread_id']}/runs/{missing}")
        assert r.status_code == 404


async def test_assistants_and_threads_search(client: LangGraphClient) -> None:
    assistants = await client.assistants.search(graph_id="agent", metadata={"created_by": "system"})
    assert [a["assistant_id"] for a in assistants] == ["fe096781-5601-53d2-b2f6-0d3403f7e9ca"]
    assert (await client.assistants.get("fe096781-5601-53d2-b2f6-0d3403f7e9ca"))[
        "graph_id"
    ] == "agent"
    tag = uuid.uuid4().hex
    made = [await client.threads.create(metadata={"tag": tag, "i": i}) for i in range(3)]
    found = await client.threads.search(metadata={"tag": tag}, limit=2)
    assert [t["thread_id"] for t in found] == [made[2]["thread_id"], made[1]["thread_id"]]
    assert await client.threads.count(metadata={"tag": tag}) == 3
    await client.threads.delete(made[0]["thread_id"])
    assert await client.threads.count(metadata={"tag": tag}) == 2

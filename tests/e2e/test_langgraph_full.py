"""More of the LangGraph Server API: human in the loop, double-texting, history, state updates."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.e2e.harness import Deployment

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


@pytest.fixture
def client(deployment: Deployment) -> LangGraphClient:
    return get_client(url=deployment.base_url)


async def wait_running(client: LangGraphClient, thread_id: str, run_id: str) -> None:
    for _ in range(200):
        state = await client.threads.get_state(thread_id)
        if state["values"].get("log"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the run never started")


async def test_interrupt_and_resume_with_approval(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    parts = [
        p
        async for p in client.runs.stream(
            tid,
            "agent",
            input={"messages": [{"role": "user", "content": "send an email about the launch"}]},
            stream_mode=["updates", "values"],
        )
    ]
    interrupt_updates = [
        p.data for p in parts if p.event == "updates" and "__interrupt__" in p.data
    ]
    pending = interrupt_updates[-1]["__interrupt__"][0]
    assert pending["value"]["tool_calls"][0]["name"] == "send_email" and pending["id"]
    assert [p.data for p in parts if p.event == "values"][-1]["__interrupt__"][0]["id"] == pending[
        "id"
    ]
    run = (await client.runs.list(tid))[0]
    assert run["status"] == "success"
    got = await client.threads.get(tid)
    assert got["status"] == "interrupted"
    assert [i["id"] for items in got["interrupts"].values() for i in items] == [pending["id"]]
    state = await client.threads.get_state(tid)
    assert (
        state["next"] == ["approve"] and state["tasks"][0]["interrupts"][0]["id"] == pending["id"]
    )
    assert state["interrupts"][0]["value"] == pending["value"]

    result = await client.runs.wait(tid, "agent", command={"resume": {"approved": True}})
    assert result["sent_emails"] == [{"to": "team@example.com", "subject": "the launch"}]
    assert (await client.threads.get(tid))["status"] == "idle"
    assert (await client.threads.get_state(tid))["next"] == []


async def test_interrupt_before_then_continue(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    await client.runs.wait(tid, "counter", input={"steps": 2}, interrupt_before=["step"])
    state = await client.threads.get_state(tid)
    assert state["next"] == ["step"] and (await client.threads.get(tid))["status"] == "interrupted"
    result = await client.runs.wait(tid, "counter", input=None)
    assert result["log"] == ["step 1", "step 2"]


async def test_enqueued_runs_execute_in_order_one_at_a_time(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    runs = [
        await client.runs.create(
            tid, "counter", input={"steps": i, "label": f"r{i}", "delay": 0.15}
        )
        for i in range(1, 6)
    ]
    for run in runs:
        await client.runs.join(tid, run["run_id"])
    statuses = [(await client.runs.get(tid, r["run_id"]))["status"] for r in runs]
    assert statuses == ["success"] * 5
    state = await client.threads.get_state(tid)
    assert state["values"]["log"] == ["r1 1", "r2 2", "r3 3", "r4 4", "r5 5"]


async def test_multitask_reject_and_interrupt(
    deployment: Deployment, client: LangGraphClient
) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    slow = await client.runs.create(tid, "counter", input={"steps": 100, "delay": 0.05})
    await wait_running(client, tid, slow["run_id"])
    async with httpx.AsyncClient(base_url=deployment.base_url) as http:
        rejected = await http.post(
            f"/threads/{tid}/runs",
            json={"assistant_id": "counter", "input": {"steps": 1}, "multitask_strategy": "reject"},
        )
    assert rejected.status_code == 409 and "already running" in rejected.json()["detail"]
    newer = await client.runs.create(
        tid, "counter", input={"steps": 0, "label": "new"}, multitask_strategy="interrupt"
    )
    await client.runs.join(tid, newer["run_id"])
    assert (await client.runs.get(tid, slow["run_id"]))["status"] == "interrupted"
    assert (await client.runs.get(tid, newer["run_id"]))["status"] == "success"
    log = (await client.threads.get_state(tid))["values"]["log"]
    assert log[-1].startswith("new ") and len(log) < 100


async def test_history_and_state_update(deployment: Deployment, client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    assert await client.threads.get_history(tid) == []
    await client.runs.wait(tid, "counter", input={"steps": 2})
    history = await client.threads.get_history(tid, limit=10)
    assert history[0]["values"]["log"] == ["step 1", "step 2"] and history[-1]["next"] == [
        "__start__"
    ]
    ids = [h["checkpoint"]["checkpoint_id"] for h in history]
    assert ids == sorted(ids, reverse=True), "newest first"
    older = await client.threads.get_history(tid, limit=2, before={"checkpoint_id": ids[1]})
    assert [h["checkpoint"]["checkpoint_id"] for h in older] == ids[2:4]
    at = await client.threads.get_state(tid, checkpoint_id=ids[1])
    assert at["checkpoint"]["checkpoint_id"] == ids[1]

    updated = await client.threads.update_state(
        tid, {"count": 10, "log": ["manual"]}, as_node="step"
    )
    assert updated["checkpoint"]["thread_id"] == tid and updated["checkpoint_id"]
    state = await client.threads.get_state(tid)
    assert state["values"]["count"] == 10 and state["values"]["log"][-1] == "manual"
    assert (await client.threads.get(tid))["values"]["count"] == 10

    slow = await client.runs.create(tid, "counter", input={"steps": 100, "delay": 0.05})
    async with httpx.AsyncClient(base_url=deployment.base_url) as http:
        busy = await http.post(f"/threads/{tid}/state", json={"values": {"count": 1}})
        assert busy.status_code == 409 and "in-flight" in busy.json()["detail"]
        fresh = (await client.threads.create())["thread_id"]
        never_ran = await http.post(f"/threads/{fresh}/state", json={"values": {"count": 1}})
        assert never_ran.status_code == 400
    await client.runs.cancel(tid, slow["run_id"], wait=True)


async def test_assistants_versions_graph_and_schemas(
    deployment: Deployment, client: LangGraphClient
) -> None:
    team = f"team-{uuid.uuid4().hex[:8]}"  # other tests' assistants share the deployment
    made = await client.assistants.create(
        "agent", config={"configurable": {"style": "terse"}}, metadata={"team": team}, name="terse"
    )
    aid = made["assistant_id"]
    assert made["version"] == 1 and made["context"] == {"style": "terse"}
    patched = await client.assistants.update(aid, metadata={"tier": "gold"}, name="terse-2")
    assert patched["version"] == 2 and patched["metadata"] == {"team": team, "tier": "gold"}
    versions = await client.assistants.get_versions(aid)
    assert [v["version"] for v in versions] == [2, 1] and versions[1]["name"] == "terse"
    back = await client.assistants.set_latest(aid, 1)
    assert back["version"] == 1 and back["name"] == "terse"
    assert [a["assistant_id"] for a in await client.assistants.search(metadata={"team": team})] == [
        aid
    ]

    drawing = await client.assistants.get_graph(aid)
    assert {n["id"] for n in drawing["nodes"]} >= {
        "__start__",
        "chat",
        "approve",
        "tools",
        "__end__",
    }
    assert {"source": "__start__", "target": "chat"} in [
        {k: e[k] for k in ("source", "target")} for e in drawing["edges"]
    ]
    schemas = await client.assistants.get_schemas(aid)
    assert schemas["graph_id"] == "agent" and "messages" in schemas["input_schema"]["properties"]
    assert "sent_emails" in schemas["state_schema"]["properties"]
    assert await client.assistants.get_subgraphs(aid) == {}
    async with httpx.AsyncClient(base_url=deployment.base_url) as http:
        assert (await http.get("/assistants/agent/graph")).status_code == 200, "graph name accepted"
        assert (await http.get(f"/assistants/{aid}/graph?xray=maybe")).status_code == 422
        assert (await http.post("/assistants", json={"graph_id": "nope"})).status_code == 404
        assert (
            await http.post("/assistants", json={"graph_id": "agent", "assistant_id": aid})
        ).status_code == 409
    run = await client.runs.wait(
        None, aid, input={"messages": [{"role": "user", "content": "hello"}]}
    )
    assert run["messages"][-1]["content"] == "Hello! I am the Headwater simulator."
    await client.assistants.delete(aid)
    async with httpx.AsyncClient(base_url=deployment.base_url) as http:
        assert (await http.get(f"/assistants/{aid}")).status_code == 404


async def test_runs_batch_and_cancel_many(client: LangGraphClient) -> None:
    runs = await client.runs.create_batch(
        [
            {"assistant_id": "counter", "input": {"steps": 1}, "on_completion": "keep"},
            {"assistant_id": "counter", "input": {"steps": 2}, "on_completion": "keep"},
        ]
    )
    assert len(runs) == 2 and len({r["thread_id"] for r in runs}) == 2
    for run in runs:
        await client.runs.join(run["thread_id"], run["run_id"])
    thread = await client.threads.create()
    tid = thread["thread_id"]
    slow = await client.runs.create(tid, "counter", input={"steps": 100, "delay": 0.05})
    queued = await client.runs.create(tid, "counter", input={"steps": 1})
    await client.runs.cancel_many(thread_id=tid, run_ids=[slow["run_id"], queued["run_id"]])
    await client.runs.join(tid, slow["run_id"])
    assert (await client.runs.get(tid, slow["run_id"]))["status"] == "interrupted"
    assert (await client.runs.get(tid, queued["run_id"]))["status"] == "interrupted"


async def test_more_stream_modes(client: LangGraphClient) -> None:
    hello = {"messages": [{"role": "user", "content": "hello"}]}
    events = [p async for p in client.runs.stream(None, "agent", input=hello, stream_mode="events")]
    kinds = [p.data["event"] for p in events if p.event == "events"]
    assert (
        kinds[0] == "on_chain_start"
        and "on_chat_model_stream" in kinds
        and kinds[-1] == "on_chain_end"
    )
    tokens = "".join(
        p.data["data"]["chunk"]["content"]
        for p in events
        if p.event == "events" and p.data["event"] == "on_chat_model_stream"
    )
    assert tokens == "Hello! I am the Headwater simulator."

    parts = [
        p
        async for p in client.runs.stream(
            None, "counter", input={"steps": 1}, stream_mode=["debug", "tasks", "checkpoints"]
        )
    ]
    names = {p.event for p in parts}
    assert {"debug", "tasks", "checkpoints"} <= names
    assert {p.data["type"] for p in parts if p.event == "debug"} >= {
        "checkpoint",
        "task",
        "task_result",
    }
    assert any(p.data.get("name") == "step" for p in parts if p.event == "tasks")

    legacy = [
        p async for p in client.runs.stream(None, "agent", input=hello, stream_mode="messages")
    ]
    partial = [p.data for p in legacy if p.event == "messages/partial"]
    assert (
        partial[-1][0]["content"] == "Hello! I am the Headwater simulator."
        and partial[-1][0]["type"] == "ai"
    )
    assert any(p.event == "messages/metadata" for p in legacy)


async def test_subgraph_events_are_namespaced(client: LangGraphClient) -> None:
    flat = [
        p
        async for p in client.runs.stream(
            None, "nested", input={"notes": []}, stream_mode="updates"
        )
    ]
    assert all("|" not in p.event for p in flat)
    parts = [
        p
        async for p in client.runs.stream(
            None, "nested", input={"notes": []}, stream_mode=["updates"], stream_subgraphs=True
        )
    ]
    namespaced = [p for p in parts if p.event.startswith("updates|inner:")]
    assert namespaced and namespaced[0].data == {"inner_step": {"notes": ["from inner"]}}
    assert parts[-1].event == "updates" and parts[-1].data["inner"]["notes"] == [
        "from outer",
        "from inner",
    ]
    subgraphs = await client.assistants.get_subgraphs("nested")
    assert list(subgraphs) == ["inner"]

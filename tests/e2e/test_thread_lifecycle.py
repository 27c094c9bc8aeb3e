"""Rollback, copy, prune and delete of threads, and resuming on another worker (langgraph-sdk)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.e2e.harness import Deployment

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


@pytest.fixture
def client(deployment: Deployment) -> LangGraphClient:
    return get_client(url=deployment.base_url)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


async def gone(client: LangGraphClient, thread_id: str, run_id: str) -> bool:
    try:
        await client.runs.get(thread_id, run_id)
    except httpx.HTTPStatusError as exc:
        return exc.response.status_code == 404
    return False


async def run_ids_in_history(client: LangGraphClient, thread_id: str) -> set[str]:
    history = await client.threads.get_history(thread_id, limit=100)
    return {str(s["metadata"].get("run_id")) for s in history}


async def test_cancel_with_rollback_leaves_no_trace_of_the_run(client: LangGraphClient) -> None:
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "counter", input={"steps": 1, "label": "kept"})
    before = await client.threads.get_state(tid)
    run = await client.runs.create(
        tid, "counter", input={"steps": 20, "delay": 0.2, "label": "undone"}
    )

    async def progressed() -> bool:
        return len((await client.threads.get_state(tid))["values"].get("log", [])) >= 3

    await eventually(progressed)
    await client.runs.cancel(tid, run["run_id"], wait=True, action="rollback")

    assert await gone(client, tid, run["run_id"])
    assert run["run_id"] not in [r["run_id"] for r in await client.runs.list(tid)]
    after = await client.threads.get_state(tid)
    assert after["values"] == before["values"]
    assert before["values"]["log"] == ["kept 1"]
    assert after["checkpoint"]["checkpoint_id"] == before["checkpoint"]["checkpoint_id"]
    assert run["run_id"] not in await run_ids_in_history(client, tid)
    thread = await client.threads.get(tid)
    assert thread["status"] == "idle" and thread["values"] == before["values"]


async def test_multitask_rollback_replaces_the_run_in_flight(client: LangGraphClient) -> None:
    tid = (await client.threads.create())["thread_id"]
    first = await client.runs.create(
        tid, "counter", input={"steps": 20, "delay": 0.2, "label": "first"}
    )

    async def started() -> bool:
        return bool((await client.threads.get_state(tid))["values"].get("log"))

    await eventually(started)
    result = await client.runs.wait(
        tid,
        "counter",
        input={"steps": 2, "label": "second"},
        multitask_strategy="rollback",
    )
    assert result["log"] == ["second 1", "second 2"], "nothing of the first run is left"
    assert await gone(client, tid, first["run_id"])
    assert [r["status"] for r in await client.runs.list(tid)] == ["success"]


async def test_rollback_of_a_resumed_run_asks_again(client: LangGraphClient) -> None:
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "approval", input={"request": "deploy", "steps": 30, "delay": 0.2})
    asked = await client.threads.get_state(tid)
    question = asked["interrupts"][0]
    resumed = await client.runs.create(tid, "approval", command={"resume": "yes"})

    async def answered() -> bool:  # `ask` finished: the run wrote onto the earlier checkpoint
        return (await client.threads.get_state(tid))["values"].get("answer") == "yes"

    await eventually(answered)
    await client.runs.cancel(tid, resumed["run_id"], wait=True, action="rollback")

    state = await client.threads.get_state(tid)
    assert state["next"] == ["ask"] and "answer" not in state["values"]
    assert [i["id"] for i in state["interrupts"]] == [question["id"]]
    assert (await client.threads.get(tid))["status"] == "interrupted"
    result = await client.runs.wait(
        tid, "approval", command={"resume": "no", "update": {"steps": 2, "delay": 0.0}}
    )
    assert result["answer"] == "no" and result["work"] == ["work 1 for no", "work 2 for no"]


async def test_copy_makes_an_independent_thread(client: LangGraphClient) -> None:
    tid = (await client.threads.create(metadata={"purpose": "original"}))["thread_id"]
    await client.runs.wait(tid, "counter", input={"steps": 2})
    copy: Any = await client.threads.copy(tid)
    assert copy["thread_id"] != tid and copy["metadata"]["purpose"] == "original"
    source_history = await client.threads.get_history(tid, limit=100)
    copy_history = await client.threads.get_history(copy["thread_id"], limit=100)
    assert [h["values"] for h in copy_history] == [h["values"] for h in source_history]
    await client.runs.wait(copy["thread_id"], "counter", input={"steps": 3, "label": "copy"})
    assert (await client.threads.get_state(tid))["values"]["log"] == ["step 1", "step 2"]
    assert (await client.threads.get_state(copy["thread_id"]))["values"]["log"][-1] == "copy 3"


async def test_prune_keeps_the_latest_state_or_deletes(client: LangGraphClient) -> None:
    kept = (await client.threads.create())["thread_id"]
    dropped = (await client.threads.create())["thread_id"]
    for tid in (kept, dropped):
        await client.runs.wait(tid, "counter", input={"steps": 3})
    latest = await client.threads.get_state(kept)
    result = await client.threads.prune([kept], strategy="keep_latest")
    assert result == {"pruned_count": 1}
    history = await client.threads.get_history(kept, limit=100)
    assert len(history) == 1 and history[0]["values"] == latest["values"]
    unknown = "00000000-0000-0000-0000-000000000000"
    assert await client.threads.prune([dropped, unknown, "not-a-uuid"]) == {"pruned_count": 1}
    with pytest.raises(httpx.HTTPStatusError) as missing:
        await client.threads.get(dropped)
    assert missing.value.response.status_code == 404


async def test_deleting_a_thread_deletes_its_checkpoints(client: LangGraphClient) -> None:
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "counter", input={"steps": 2})
    await client.threads.delete(tid)
    await client.threads.create(thread_id=tid)  # the same id again: nothing of the old one
    await client.runs.wait(tid, "counter", input={"steps": 1, "label": "new"})
    assert (await client.threads.get_state(tid))["values"]["log"] == ["new 1"]


async def test_bad_prune_and_copy_requests_are_4xx(deployment: Deployment) -> None:
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=10) as http:
        bad = await http.post("/threads/prune", json={"thread_ids": [], "strategy": "shred"})
        assert bad.status_code == 422 and "strategy" in bad.text
        assert (await http.post("/threads/prune", json={"thread_ids": "x"})).status_code == 422
        missing = await http.post("/threads/00000000-0000-0000-0000-000000000000/copy")
        assert missing.status_code == 404
        assert (await http.post("/threads/nope/copy")).status_code == 422


async def test_interrupt_then_resume_on_another_worker(cluster_deployment: Deployment) -> None:
    deployment = cluster_deployment
    client = get_client(url=deployment.base_url)
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "approval", input={"request": "ship", "steps": 2})
    [asker] = (await client.threads.get_state(tid))["values"]["pids"]
    holder = next(n for n, pid in deployment.worker_pids().items() if pid == asker)
    deployment.processes[holder].send_signal(signal.SIGSTOP)  # it can take nothing now
    try:
        await asyncio.sleep(1.5)  # its outstanding pull requests (1 s) expire
        result = await client.runs.wait(tid, "approval", command={"resume": "approved"})
    finally:
        deployment.processes[holder].send_signal(signal.SIGCONT)
    assert result["answer"] == "approved"
    assert result["work"] == ["work 1 for approved", "work 2 for approved"]
    first, resumer = result["pids"]
    assert first == asker and resumer != asker
    assert resumer in deployment.worker_pids().values()


async def test_cancelling_a_queued_run_leaves_the_thread_as_it_was(
    client: LangGraphClient,
) -> None:
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "counter", input={"steps": 2}, interrupt_before=["step"])
    assert (await client.threads.get(tid))["status"] == "interrupted"
    later = await client.runs.create(tid, "counter", input=None, after_seconds=30)
    assert (await client.threads.get(tid))["status"] == "busy"
    await client.runs.cancel(tid, later["run_id"])
    assert (await client.threads.get(tid))["status"] == "interrupted", "not idle: it still waits"
    rolled = await client.runs.create(tid, "counter", input=None, after_seconds=30)
    await client.runs.cancel(tid, rolled["run_id"], action="rollback")
    assert (await client.threads.get(tid))["status"] == "interrupted"
    assert await gone(client, tid, rolled["run_id"])


async def test_thread_search_by_values_with_select(
    client: LangGraphClient, deployment: Deployment
) -> None:
    import uuid

    label = f"v{uuid.uuid4().hex[:8]}"
    wanted = (await client.threads.create())["thread_id"]
    other = (await client.threads.create())["thread_id"]
    await client.runs.wait(wanted, "counter", input={"steps": 1, "label": label})
    await client.runs.wait(other, "counter", input={"steps": 1, "label": label + "-not"})
    found = await client.threads.search(values={"label": label}, select=["thread_id", "status"])
    assert found == [{"thread_id": wanted, "status": "idle"}]
    assert await client.threads.count(values={"label": label}) == 1
    [extracted] = await client.threads.search(
        values={"label": label}, select=["thread_id"], extract={"last": "values.log[-1]"}
    )
    assert extracted == {"thread_id": wanted, "extracted": {"last": f"{label} 1"}}
    assistants = await client.assistants.search(graph_id="counter", select=["assistant_id"])
    assert assistants and all(set(a) == {"assistant_id"} for a in assistants)
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=10) as http:
        bad = await http.post("/threads/search", json={"select": ["thread_id", "password"]})
        assert bad.status_code == 422
        assert (await http.post("/threads/search", json={"values": "x"})).status_code == 422


async def test_a_thread_past_its_ttl_is_deleted_or_pruned(client: LangGraphClient) -> None:
    short = {"ttl": 0.03, "strategy": "delete"}  # minutes: under two seconds
    doomed = (await client.threads.create(ttl=short))["thread_id"]
    kept = (await client.threads.create(ttl={"ttl": 0.03, "strategy": "keep_latest"}))["thread_id"]
    forever = (await client.threads.create())["thread_id"]
    for tid in (doomed, kept, forever):
        await client.runs.wait(tid, "counter", input={"steps": 3})
    shown = await client.threads.get(doomed, include=["ttl"])
    assert shown["ttl"]["strategy"] == "delete" and shown["ttl"]["ttl_minutes"] == 0.03
    assert (await client.threads.get(forever, include=["ttl"]))["ttl"] is None
    latest = await client.threads.get_state(kept)

    async def swept() -> bool:
        try:
            await client.threads.get(doomed)
        except httpx.HTTPStatusError as exc:
            return exc.response.status_code == 404
        return False

    await eventually(swept, timeout=20)

    async def pruned() -> bool:
        return len(await client.threads.get_history(kept, limit=10)) == 1

    await eventually(pruned, timeout=20)
    assert (await client.threads.get_state(kept))["values"] == latest["values"]
    assert len(await client.threads.get_history(forever, limit=10)) > 1


async def test_bad_ttls_are_422(deployment: Deployment) -> None:
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=10) as http:
        for ttl in ({"ttl": 0}, {"ttl": -5}, {"ttl": 10, "strategy": "shred"}, {"ttl": "x"}):
            answer = await http.post("/threads", json={"ttl": ttl})
            assert answer.status_code == 422, ttl


async def test_delete_takes_the_checkpoints_even_without_a_graph_id(
    client: LangGraphClient,
) -> None:
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "counter", input={"steps": 2, "label": "old"})
    await client.threads.update(tid, metadata={"graph_id": None})
    await client.threads.delete(tid)
    await client.threads.create(thread_id=tid, metadata={"graph_id": "counter"})
    assert (await client.threads.get_state(tid))["values"] == {}
    assert await client.threads.get_history(tid) == []


async def test_nul_characters_are_refused_everywhere(deployment: Deployment) -> None:
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=10) as http:
        tid = (await http.post("/threads", json={})).json()["thread_id"]
        nul = "bad\u0000value"
        requests = [
            ("POST", "/threads", {"metadata": {"a": nul}}),
            ("POST", "/threads/search", {"metadata": {"a": nul}}),
            ("PATCH", f"/threads/{tid}", {"metadata": {"a": nul}}),
            ("POST", "/assistants/count", {"name": nul}),
            ("POST", f"/threads/{tid}/runs", {"assistant_id": "counter", "input": {"x": nul}}),
            (
                "POST",
                "/runs/crons",
                {"assistant_id": "counter", "schedule": "0 9 * * *", "metadata": {"a": nul}},
            ),
            ("PUT", "/store/items", {"namespace": ["n"], "key": "k", "value": {"v": nul}}),
        ]
        for method, path, body in requests:
            answer = await http.request(method, path, json=body)
            assert answer.status_code == 422 and "NUL" in answer.json()["detail"], (
                path,
                answer.text,
            )
        escaped = await http.post("/threads", json={"metadata": {"a": "\\u0000 is text"}})
        assert escaped.status_code == 200, "an escaped backslash is not a NUL"
        assert (await http.get("/threads/search%00")).status_code == 422
        assert (await http.get(f"/threads/{tid}/runs", params={"offset": 2**63})).status_code == 422

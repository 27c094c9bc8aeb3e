"""Reconnecting to a run that is still streaming, two viewers, and forking from a checkpoint."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.schema import StreamPart

from tests.e2e.harness import Deployment

pytestmark = [pytest.mark.e2e, pytest.mark.k8s_local, pytest.mark.timeout(90)]


@pytest.fixture
def client(deployment: Deployment) -> LangGraphClient:
    return get_client(url=deployment.base_url)


def signature(parts: list[StreamPart]) -> list[tuple[str, Any, str | None]]:
    return [(p.event, p.data, p.id) for p in parts]


async def test_reconnect_mid_run_loses_and_repeats_nothing(client: LangGraphClient) -> None:
    tid = (await client.threads.create())["thread_id"]
    first: list[StreamPart] = []
    async for part in client.runs.stream(
        tid,
        "counter",
        input={"steps": 8, "delay": 0.15},
        stream_mode=["custom", "values"],
        stream_resumable=True,
    ):
        first.append(part)
        if part.event == "custom" and part.data["progress"] == 3:
            break  # the connection drops while the run goes on
    run_id = first[0].data["run_id"]
    assert (await client.runs.get(tid, run_id))["status"] == "running"

    rest = [p async for p in client.runs.join_stream(tid, run_id, last_event_id=first[-1].id)]
    full = [p async for p in client.runs.join_stream(tid, run_id, last_event_id="-")]
    assert signature(first + rest) == signature(full)
    progress = [p.data["progress"] for p in first + rest if p.event == "custom"]
    assert progress == list(range(1, 9))
    assert (await client.runs.get(tid, run_id))["status"] == "success"


async def test_two_viewers_see_the_same_events(client: LangGraphClient) -> None:
    tid = (await client.threads.create())["thread_id"]
    run = await client.runs.create(
        tid, "counter", input={"steps": 5, "delay": 0.1}, stream_mode=["custom", "updates"]
    )

    async def view() -> list[StreamPart]:
        return [p async for p in client.runs.join_stream(tid, run["run_id"])]

    one, two = await asyncio.gather(view(), view())
    assert signature(one) == signature(two)
    assert [p.data["progress"] for p in one if p.event == "custom"] == [1, 2, 3, 4, 5]


async def test_run_from_an_earlier_checkpoint_forks_the_thread(
    deployment: Deployment, client: LangGraphClient
) -> None:
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "counter", input={"steps": 3})
    history = await client.threads.get_history(tid, limit=20)
    after_one = next(h for h in history if h["values"].get("count") == 1)
    fork_at = after_one["checkpoint"]["checkpoint_id"]

    replay = await client.runs.wait(tid, "counter", input=None, checkpoint_id=fork_at)
    assert replay["log"] == ["step 1", "step 2", "step 3"], "re-run from step 1's checkpoint"
    forked = await client.runs.wait(
        tid, "counter", checkpoint={"checkpoint_id": fork_at}, command={"update": {"label": "b"}}
    )
    assert forked["log"] == ["step 1", "b 2", "b 3"]
    head = await client.threads.get_state(tid)
    assert head["values"]["log"] == ["step 1", "b 2", "b 3"]
    chain = await client.threads.get_history(tid, limit=50)
    parents = {h["checkpoint"]["checkpoint_id"] for h in chain}
    assert fork_at in parents
    original = next(h for h in chain if h["values"].get("log") == ["step 1", "step 2", "step 3"])
    assert original, "the original branch is still in the history"


async def test_after_seconds_delays_the_start(client: LangGraphClient) -> None:
    import datetime as dt

    tid = (await client.threads.create())["thread_id"]
    asked = dt.datetime.now(dt.UTC)
    run = await client.runs.create(tid, "counter", input={"steps": 1}, after_seconds=1.5)
    assert dt.datetime.fromisoformat(run["created_at"]) >= asked + dt.timedelta(seconds=1.4)
    await asyncio.sleep(0.7)
    assert (await client.runs.get(tid, run["run_id"]))["status"] == "pending"
    await client.runs.join(tid, run["run_id"])
    done = await client.runs.get(tid, run["run_id"])
    assert done["status"] == "success"
    assert dt.datetime.fromisoformat(done["updated_at"]) >= asked + dt.timedelta(seconds=1.4)


async def test_durability_exit_saves_only_the_end(client: LangGraphClient) -> None:
    stepwise = (await client.threads.create())["thread_id"]
    at_exit = (await client.threads.create())["thread_id"]
    await client.runs.wait(stepwise, "counter", input={"steps": 4})
    await client.runs.wait(at_exit, "counter", input={"steps": 4}, durability="exit")
    every = await client.threads.get_history(stepwise, limit=50)
    final = await client.threads.get_history(at_exit, limit=50)
    assert final[0]["values"] == every[0]["values"]
    assert len(final) < len(every)


async def test_if_not_exists_creates_the_thread_or_refuses(client: LangGraphClient) -> None:
    import uuid

    import httpx

    missing = str(uuid.uuid4())
    with pytest.raises(httpx.HTTPStatusError) as refused:
        await client.runs.wait(missing, "counter", input={"steps": 1})
    assert refused.value.response.status_code == 404
    result = await client.runs.wait(missing, "counter", input={"steps": 1}, if_not_exists="create")
    assert result["log"] == ["step 1"]
    assert (await client.threads.get(missing))["metadata"]["graph_id"] == "counter"


async def test_on_disconnect_cancel_stops_the_run_continue_does_not(
    client: LangGraphClient,
) -> None:
    async def drop_after_first_step(on_disconnect: str) -> tuple[str, str]:
        tid = (await client.threads.create())["thread_id"]
        run_id = ""
        async for part in client.runs.stream(
            tid,
            "counter",
            input={"steps": 20, "delay": 0.1},
            stream_mode="custom",
            on_disconnect=on_disconnect,  # type: ignore[arg-type]
        ):
            run_id = run_id or part.data.get("run_id", "")
            if part.event == "custom":
                break
        return tid, run_id

    tid, run_id = await drop_after_first_step("cancel")
    for _ in range(100):
        if (await client.runs.get(tid, run_id))["status"] == "interrupted":
            break
        await asyncio.sleep(0.05)
    assert (await client.runs.get(tid, run_id))["status"] == "interrupted"
    assert len((await client.threads.get_state(tid))["values"]["log"]) < 20

    tid, run_id = await drop_after_first_step("continue")
    await client.runs.join(tid, run_id)
    assert (await client.runs.get(tid, run_id))["status"] == "success"
    assert len((await client.threads.get_state(tid))["values"]["log"]) == 20

"""kill -9 of the worker executing a run, and of the API a client streams from."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from tests.faults.cluster import LONG, LONG_TOKENS, SHORT, FaultCluster
from tests.faults.tries import Frame, check_try, stream_run

pytestmark = [pytest.mark.fault, pytest.mark.timeout(180)]
RECOVERY_TARGET_S = 5.0


def _after_tokens(count: int) -> tuple[asyncio.Event, object]:
    reached = asyncio.Event()
    seen = 0

    def on_frame(frame: Frame) -> None:
        nonlocal seen
        seen += frame.event == "messages"
        if seen == count:
            reached.set()

    return reached, on_frame


async def test_kill_9_busy_worker(cluster: FaultCluster, figures: dict[str, str]) -> None:
    """The run goes on on the other worker within seconds (a redelivery is attempt 2)."""
    reached, on_frame = _after_tokens(20)
    streaming = asyncio.create_task(
        stream_run(list(cluster.api_urls.values()), LONG, on_frame=on_frame)  # type: ignore[arg-type]
    )
    await asyncio.wait_for(reached.wait(), 30)
    victim = await asyncio.to_thread(cluster.busy_worker)
    cluster.deployment.processes[victim].send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    try:
        run = await streaming
    finally:
        await asyncio.to_thread(cluster.respawn, victim)
    resumed = run.attempt_started(2)
    assert resumed is not None, "the run went on in a second attempt"
    recovery = resumed - killed_at
    figures["recovery (s)"] = f"{recovery:.1f}"
    figures["rejoins"] = str(run.rejoins)
    await check_try(cluster.api, run, reply_tokens=LONG_TOKENS)
    assert recovery <= RECOVERY_TARGET_S


async def test_kill_9_api_rejoin_on_another_replica(
    cluster: FaultCluster, figures: dict[str, str]
) -> None:
    """The client's stream breaks; it rejoins on the other API with ``Last-Event-ID``."""
    reached, on_frame = _after_tokens(20)
    apis = list(cluster.api_urls.values())
    streaming = asyncio.create_task(stream_run(apis, LONG, on_frame=on_frame))  # type: ignore[arg-type]
    await asyncio.wait_for(reached.wait(), 30)
    cluster.deployment.processes["api0"].send_signal(signal.SIGKILL)
    try:
        run = await streaming
    finally:
        await asyncio.to_thread(cluster.respawn, "api0")
    figures["rejoins"] = str(run.rejoins)
    figures["breaks"] = " / ".join(run.breaks)
    assert run.rejoins == 1, run.breaks
    await check_try(apis[1], run, reply_tokens=LONG_TOKENS)


async def test_kill_9_api_before_a_delayed_run_is_due(
    cluster: FaultCluster, figures: dict[str, str]
) -> None:
    """A run created with ``after_seconds`` waits in the queue, not in the API that took it:
    killing that API before the run is due changes nothing; the run starts on time."""
    import datetime as dt

    import httpx

    delay_s = 3.0
    api0, api1 = cluster.api_urls["api0"], cluster.api_urls["api1"]
    body = {
        "assistant_id": "agent",
        "input": {"messages": [{"role": "user", "content": SHORT}]},
        "after_seconds": delay_s,
    }
    async with httpx.AsyncClient(timeout=30.0) as http:
        thread = (await http.post(f"{api0}/threads", json={})).json()["thread_id"]
        created = await http.post(f"{api0}/threads/{thread}/runs", json=body)
        assert created.status_code == 200, created.text
        run = created.json()
        cluster.deployment.processes["api0"].send_signal(signal.SIGKILL)
        try:
            due = dt.datetime.fromisoformat(run["created_at"])
            url = f"{api1}/threads/{thread}/runs/{run['run_id']}"
            deadline = time.monotonic() + delay_s + 20
            while (row := (await http.get(url)).json())["status"] in ("pending", "running"):
                assert time.monotonic() < deadline, f"still {row['status']}"
                await asyncio.sleep(0.2)
        finally:
            await asyncio.to_thread(cluster.respawn, "api0")
    started_late = (dt.datetime.fromisoformat(row["updated_at"]) - due).total_seconds()
    figures["delay (s)"] = f"{delay_s:.1f}"
    figures["ended after due (s)"] = f"{started_late:.1f}"
    assert row["status"] == "success"
    assert 0 <= started_late < 5.0, "ran when due, not a minute later by the stuck-run sweep"

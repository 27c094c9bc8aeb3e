"""kill -9 of the worker executing a run, and of the API a client streams from."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from tests.faults.cluster import LONG, LONG_TOKENS, FaultCluster
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

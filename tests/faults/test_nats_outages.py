"""NATS stops (SIGTERM or SIGKILL) mid-stream and comes back after a short or an 8 s outage."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import time

import httpx
import pytest

from tests.faults.cluster import LONG, LONG_TOKENS, FaultCluster
from tests.faults.tries import Frame, check_try, stream_run

pytestmark = [pytest.mark.fault, pytest.mark.timeout(180)]
FAULT_AT_TOKEN = 20


async def _run_with_fault(cluster: FaultCluster, fault: object, figures: dict[str, str]) -> None:
    reached = asyncio.Event()
    tokens = 0

    def on_frame(frame: Frame) -> None:
        nonlocal tokens
        if frame.event == "messages":
            tokens += 1
            if tokens == FAULT_AT_TOKEN:
                reached.set()

    started = time.monotonic()
    streaming = asyncio.create_task(
        stream_run(list(cluster.api_urls.values()), LONG, on_frame=on_frame)
    )
    await asyncio.wait_for(reached.wait(), 30)
    fault_at, fault_wall = time.monotonic(), dt.datetime.now(dt.UTC)
    await asyncio.to_thread(fault)  # type: ignore[arg-type]
    restored = time.monotonic()
    run = await streaming
    figures["run (s)"] = f"{time.monotonic() - started:.1f}"
    figures["outage (s)"] = f"{restored - fault_at:.1f}"
    figures["rejoins"] = str(run.rejoins)
    figures["events"] = str(len(run.frames))
    async with httpx.AsyncClient() as http:
        row = (await http.get(f"{cluster.api}/threads/{run.thread_id}/runs/{run.run_id}")).json()
    ended = dt.datetime.fromisoformat(row["updated_at"])
    figures["recorded (s after fault)"] = f"{(ended - fault_wall).total_seconds():.1f}"
    await check_try(cluster.api, run, reply_tokens=LONG_TOKENS)


async def test_no_fault_baseline(cluster: FaultCluster, figures: dict[str, str]) -> None:
    """The checks pass on a run nothing happens to (and would catch a broken client)."""
    await _run_with_fault(cluster, lambda: None, figures)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_nats_quick_restart(
    cluster: FaultCluster, figures: dict[str, str], sig: signal.Signals
) -> None:
    await _run_with_fault(cluster, lambda: cluster.kill_nats(sig, 0.2), figures)


@pytest.mark.xfail(
    strict=True,
    reason="eventpath (issue 16 point 1): the API ends a stream when the database shows the run "
    "final, before the run's events are read; the run, thread, state and replay are all good",
)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_nats_8s_outage(
    cluster: FaultCluster, figures: dict[str, str], sig: signal.Signals
) -> None:
    await _run_with_fault(cluster, lambda: cluster.kill_nats(sig, 8.0), figures)

"""NATS stops (SIGTERM or SIGKILL) mid-stream and comes back after a short or an 8 s outage."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest

from tests.faults.cluster import LONG, LONG_TOKENS, OUTLAST, OUTLAST_TOKENS, FaultCluster
from tests.faults.tries import Frame, check_try, stream_run

pytestmark = [pytest.mark.fault, pytest.mark.timeout(180)]
FAULT_AT_TOKEN = 20
Fault = Callable[[], Awaitable[None]]
FENCED = ("by a live worker", "already running here")
"""What a worker logs when it leaves a redelivered run to the live worker that runs it."""


async def _run_with_fault(
    cluster: FaultCluster,
    fault: Fault,
    figures: dict[str, str],
    *,
    prompt: str = LONG,
    tokens: int = LONG_TOKENS,
) -> None:
    reached = asyncio.Event()
    seen = 0

    def on_frame(frame: Frame) -> None:
        nonlocal seen
        seen += frame.event == "messages"
        if seen == FAULT_AT_TOKEN:
            reached.set()

    fenced_before = cluster.worker_log_lines(*FENCED)
    started = time.monotonic()
    streaming = asyncio.create_task(
        stream_run(list(cluster.api_urls.values()), prompt, on_frame=on_frame)
    )
    await asyncio.wait_for(reached.wait(), 30)
    fault_at, fault_wall = time.monotonic(), dt.datetime.now(dt.UTC)
    await fault()
    restored = time.monotonic()
    run = await streaming
    figures["run (s)"] = f"{time.monotonic() - started:.1f}"
    figures["outage (s)"] = f"{restored - fault_at:.1f}"
    figures["rejoins"] = str(run.rejoins)
    figures["events"] = str(len(run.frames))
    attempts = [f.data["attempt"] for f in run.frames if f.event == "metadata"]
    figures["attempts"] = ",".join(map(str, attempts))
    figures["fenced redeliveries"] = str(cluster.worker_log_lines(*FENCED) - fenced_before)
    async with httpx.AsyncClient() as http:
        row = (await http.get(f"{cluster.api}/threads/{run.thread_id}/runs/{run.run_id}")).json()
    ended = dt.datetime.fromisoformat(row["updated_at"])
    figures["recorded (s after fault)"] = f"{(ended - fault_wall).total_seconds():.1f}"
    assert attempts == [1], "a live worker keeps its run through the outage"
    await check_try(cluster.api, run, reply_tokens=tokens)


def _nats_down(
    cluster: FaultCluster, sig: int, outage_s: float, figures: dict[str, str] | None = None
) -> Fault:
    """Stop nats-server with ``sig`` and restart it after ``outage_s``; with ``figures``, ask
    the API meanwhile for things that need NATS: 503 (or an answer once NATS is back), no 500."""

    async def fault() -> None:
        await asyncio.to_thread(cluster.nats.stop, sig)
        down_at = time.monotonic()
        probing = asyncio.create_task(_probe(cluster)) if figures is not None else None
        try:
            await asyncio.sleep(outage_s)
        finally:
            await asyncio.to_thread(cluster.nats.start)
        if probing is not None and figures is not None:
            answers = await probing
            figures["answers during the outage"] = ", ".join(
                f"{k} {v}" for k, v in sorted(answers.items())
            )
            assert all(v < 500 or v == 503 for v in answers.values()), answers
            assert answers["/readyz"] == 503
        figures_outage = time.monotonic() - down_at
        assert figures_outage < outage_s + 5

    return fault


async def _probe(cluster: FaultCluster) -> dict[str, int]:
    """Requests that need NATS, made while it is down (each waits at most its own timeout)."""
    await asyncio.sleep(0.5)
    url = cluster.api
    body = {"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": "hi"}]}}
    async with httpx.AsyncClient(timeout=30.0) as http:
        thread = (await http.post(f"{url}/threads", json={})).json()["thread_id"]
        ready = await http.get(f"{url}/readyz")
        assert ready.json()["checks"] == {"bus": "unavailable", "database": "ok"}
        calls = {
            "runs/wait": http.post(f"{url}/threads/{thread}/runs/wait", json=body),
            "runs/stream": http.post(f"{url}/threads/{thread}/runs/stream", json=body),
            "state": http.get(f"{url}/threads/{thread}/state"),
        }
        answers = await asyncio.gather(*calls.values())
    return {"/readyz": ready.status_code} | {
        name: answer.status_code for name, answer in zip(calls, answers, strict=True)
    }


async def test_no_fault_baseline(cluster: FaultCluster, figures: dict[str, str]) -> None:
    """The checks pass on a run nothing happens to (and would catch a broken client)."""

    async def nothing() -> None:
        return None

    await _run_with_fault(cluster, nothing, figures)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_nats_quick_restart(
    cluster: FaultCluster, figures: dict[str, str], sig: signal.Signals
) -> None:
    await _run_with_fault(cluster, _nats_down(cluster, sig, 0.2), figures)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_nats_8s_outage(
    cluster: FaultCluster, figures: dict[str, str], sig: signal.Signals
) -> None:
    """The run ends during the outage; its end is announced when NATS is back."""
    await _run_with_fault(cluster, _nats_down(cluster, sig, 8.0, figures), figures)


async def test_nats_8s_outage_run_outlasts_it(
    cluster: FaultCluster, figures: dict[str, str]
) -> None:
    """The run is still streaming when NATS returns: its worker keeps it (no redelivery)."""
    await _run_with_fault(
        cluster,
        _nats_down(cluster, signal.SIGKILL, 8.0),
        figures,
        prompt=OUTLAST,
        tokens=OUTLAST_TOKENS,
    )

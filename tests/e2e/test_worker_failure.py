"""Workers are disposable: kill -9 or SIGTERM one mid-run and the run still completes."""

from __future__ import annotations

import signal
from typing import Any

import pytest
from langgraph_sdk import get_client

from tests.e2e.harness import Deployment

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _holder(deployment: Deployment, pid: int) -> str:
    names = [name for name, p in deployment.worker_pids().items() if p == pid]
    assert names, f"pid {pid} is not one of our workers {deployment.worker_pids()}"
    return names[0]


async def _stream_and_signal(
    deployment: Deployment, steps: int, delay: float, at_step: int, sig: int
) -> tuple[list[Any], str, str]:
    client = get_client(url=deployment.base_url)
    thread = await client.threads.create()
    parts: list[Any] = []
    victim = ""
    async for part in client.runs.stream(
        thread["thread_id"],
        "counter",
        input={"steps": steps, "delay": delay},
        stream_mode=["custom", "values"],
    ):
        parts.append(part)
        if not victim and part.event == "custom" and part.data["progress"] == at_step:
            victim = _holder(deployment, part.data["pid"])
            deployment.processes[victim].send_signal(sig)
    return parts, thread["thread_id"], victim


async def test_kill_9_worker_mid_run_loses_nothing(cluster_deployment: Deployment) -> None:
    deployment = cluster_deployment
    parts, thread_id, victim = await _stream_and_signal(
        deployment, steps=8, delay=0.4, at_step=3, sig=signal.SIGKILL
    )
    try:
        attempts = [p.data["attempt"] for p in parts if p.event == "metadata"]
        assert attempts == [1, 2]
        final = [p.data for p in parts if p.event == "values"][-1]
        expected = [f"step {i}" for i in range(1, 9)]
        assert final["log"] == expected and final["count"] == 8
        client = get_client(url=deployment.base_url)
        run_id = parts[0].data["run_id"]
        assert (await client.runs.get(thread_id, run_id))["status"] == "success"
        state = await client.threads.get_state(thread_id)
        assert state["values"]["log"] == expected, "no step lost or duplicated in the thread state"
        later = [p.data["pid"] for p in parts if p.event == "custom" and p.data["progress"] > 3]
        assert later and deployment.processes[victim].pid not in later
    finally:
        deployment.processes[victim].wait(timeout=10)
        deployment.spawn(victim, "worker")


async def test_sigterm_drains_a_short_run(cluster_deployment: Deployment) -> None:
    deployment = cluster_deployment
    parts, _thread_id, victim = await _stream_and_signal(
        deployment, steps=4, delay=0.3, at_step=2, sig=signal.SIGTERM
    )
    try:
        assert [p.data["attempt"] for p in parts if p.event == "metadata"] == [1], (
            "finished by the draining worker"
        )
        assert [p.data for p in parts if p.event == "values"][-1]["count"] == 4
        assert deployment.processes[victim].wait(timeout=20) == 0
    finally:
        deployment.spawn(victim, "worker")


async def test_sigterm_hands_back_a_long_run(cluster_deployment: Deployment) -> None:
    deployment = cluster_deployment  # drain timeout is 5 s; this run needs ~12 s more
    parts, _thread_id, victim = await _stream_and_signal(
        deployment, steps=14, delay=1.0, at_step=2, sig=signal.SIGTERM
    )
    try:
        assert [p.data["attempt"] for p in parts if p.event == "metadata"] == [1, 2]
        final = [p.data for p in parts if p.event == "values"][-1]
        assert final["log"] == [f"step {i}" for i in range(1, 15)]
        assert deployment.processes[victim].wait(timeout=20) == 0
    finally:
        deployment.spawn(victim, "worker")

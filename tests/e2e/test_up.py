"""``headwater up --workers 2``: the whole cluster from one command (embedded NATS and
PostgreSQL), a real langgraph-sdk stream through it, both workers serving, and Ctrl-C stopping
every process it started."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from langgraph_sdk import get_client

from tests.e2e.harness import ROOT, TEST_CONFIG, headwater
from tests.services import START_TIMEOUT_S, free_port, log_tail

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
READY = re.compile(r"metrics on (\d+), (\d+)")


class Up:
    """A running ``headwater up`` and the output it printed."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        self.log = folder / "up.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
        env.update(PYTHONUNBUFFERED="1", HEADWATER_WORKER_CONCURRENCY="1")
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                headwater(
                    "up",
                    *("--workers", "2", "--port", str(port)),
                    *("--data", str(folder / "data"), "--config", str(TEST_CONFIG)),
                ),
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self) -> list[int]:
        """The workers' metrics ports, once up says ready."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while (found := READY.search(self.output())) is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise TimeoutError(f"headwater up did not get ready:\n{log_tail(self.log, 60)}")
            time.sleep(0.2)
        return [int(port) for port in found.groups()]

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)


@pytest.fixture
def up() -> Iterator[Up]:
    folder = Path(tempfile.mkdtemp(prefix="hw-up-"))
    folder.chmod(0o755)  # as root, PostgreSQL runs as an unprivileged account
    running = Up(folder, free_port())
    yield running
    if running.process.poll() is None:  # the test failed before stopping it
        for child in running.descendants():
            child.kill()
        running.process.kill()
        running.process.wait()
    shutil.rmtree(folder, ignore_errors=True)


def finished_runs(port: int) -> float:
    """``headwater_runs_finished_total`` (successes) on one worker's /metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    found = re.search(r'^headwater_runs_finished_total\{status="success"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


async def test_up_serves_a_stream_with_two_workers_and_stops_on_ctrl_c(up: Up) -> None:
    metrics_ports = up.wait_ready()
    assert len(set(metrics_ports)) == 2
    out = up.output()
    for name in ("migrate", "simllm", "memory", "worker-1", "worker-2", "api"):
        assert f"[{name}] " in out, f"{name}'s output is printed with its name"

    client = get_client(url=f"http://127.0.0.1:{up.port}")
    thread = await client.threads.create()
    human = {"messages": [{"role": "user", "content": "hello there"}]}
    parts = [
        p
        async for p in client.runs.stream(
            thread["thread_id"], "agent", input=human, stream_mode=["values", "messages-tuple"]
        )
    ]
    assert parts[0].event == "metadata"
    final = [p.data for p in parts if p.event == "values"][-1]
    assert final["messages"][-1]["content"] == "Hello! I am the Headwater simulator."
    streamed = "".join(c["content"] for c, _ in (p.data for p in parts if p.event == "messages"))
    assert streamed == final["messages"][-1]["content"]

    # One run at a time per worker (HEADWATER_WORKER_CONCURRENCY=1): runs at once use both.
    threads = [await client.threads.create() for _ in range(8)]
    results = await asyncio.gather(
        *(client.runs.wait(t["thread_id"], "agent", input=human) for t in threads)
    )
    assert all(r["messages"][-1]["content"].startswith("Hello!") for r in results)
    per_worker = [finished_runs(port) for port in metrics_ports]
    assert sum(per_worker) == 9 and all(n > 0 for n in per_worker), per_worker

    started = up.descendants()
    commands = [p.cmdline() for p in started]
    programs = [Path(c[0]).name for c in commands]
    assert "nats-server" in programs and "postgres" in programs
    assert [c[-1] for c in commands if "headwater.cli.main" in c].count("worker") == 2
    up.process.send_signal(signal.SIGINT)
    assert up.process.wait(timeout=90) == 0
    out = up.output()
    assert "Traceback" not in out, log_tail(up.log, 60)
    assert out.rstrip().endswith("[up] stopped")
    left = [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert left == [], f"processes left behind: {[p.cmdline() for p in left]}"


def test_up_names_a_process_that_cannot_start_and_stops_the_rest() -> None:
    folder = Path(tempfile.mkdtemp(prefix="hw-up-"))
    folder.chmod(0o755)
    with socket.socket() as taken:  # the API's port is in use
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        up = Up(folder, taken.getsockname()[1])
        try:
            code = up.process.wait(timeout=240)
        finally:
            if up.process.poll() is None:
                up.process.kill()
    out = up.output()
    shutil.rmtree(folder, ignore_errors=True)
    assert code == 1, out[-3000:]
    assert "[up] api exited with code" in out and "while starting" in out
    assert out.rstrip().endswith("[up] stopped")
    assert "Traceback" not in out.split("[up] api exited")[1]

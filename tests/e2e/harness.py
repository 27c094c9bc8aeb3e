"""Headwater deployments for the black-box suite: dev mode, cluster mode, or a given URL."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.services import START_TIMEOUT_S, free_port, log_tail, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
TEST_CONFIG = ROOT / "tests" / "graphs" / "langgraph.json"
WS_SESSION_TTL_S = 4.0


def headwater(*args: str) -> list[str]:
    """The command line of the ``headwater`` CLI in this interpreter."""
    return [sys.executable, "-m", "headwater.cli.main", *args]


def wait_until_ready(
    base_url: str,
    path: str = "/ok",
    timeout: float = START_TIMEOUT_S,
    *,
    name: str = "",
    process: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    """Poll until ``path`` answers 200; with ``process``, fail as soon as it exits. A failure
    names ``name`` and shows the tail of ``log``."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            response = httpx.get(base_url + path, timeout=2.0)
            if response.status_code == 200:
                return
            last = response.status_code
        except httpx.HTTPError as exc:
            last = exc
        exited = process is not None and process.poll() is not None
        if exited or time.monotonic() > deadline:
            why = (
                f"exited with code {process.returncode}"
                if exited and process
                else (f"not ready after {timeout:.0f} s (last answer: {last!r})")
            )
            tail = log_tail(log) if log is not None else ""
            shown = f"\n--- last lines of {log}:\n{tail}" if tail else ""
            raise TimeoutError(f"{name or 'server'} at {base_url}{path}: {why}{shown}")
        time.sleep(0.1)


@dataclass
class Deployment:
    """A running Headwater the suite talks to over HTTP only."""

    kind: str
    base_url: str
    env: dict[str, str] = field(default_factory=dict)
    workdir: Path | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    metrics_ports: dict[str, int] = field(default_factory=dict)
    env_by_process: dict[str, dict[str, str]] = field(default_factory=dict)

    def spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """Start a headwater sub-command with this deployment's environment."""
        assert self.workdir is not None
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        env = dict(self.env)
        if name.startswith("worker"):  # each worker serves its own /metrics
            port = self.metrics_ports.setdefault(name, free_port())
            env["HEADWATER_METRICS_PORT"] = str(port)
        env.update(self.env_by_process.get(name, {}))
        process = subprocess.Popen(
            headwater(*args), env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        self.processes[name] = process
        return process

    def worker_pids(self) -> dict[str, int]:
        """Worker process ids by name."""
        return {
            n: p.pid
            for n, p in self.processes.items()
            if n.startswith("worker") and p.poll() is None
        }

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal one of our processes (by the pid we started)."""
        process = self.processes[name]
        process.send_signal(sig)
        process.wait(timeout=30)

    def wait_ready(self, name: str, base_url: str, path: str = "/readyz") -> None:
        """Wait until process ``name`` answers 200 on ``path`` (fails early if it exits)."""
        assert self.workdir is not None
        process = self.processes[name]
        wait_until_ready(
            base_url, path, name=name, process=process, log=self.workdir / f"{name}.log"
        )

    def log_of(self, name: str) -> str:
        """What a process printed."""
        assert self.workdir is not None
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        """Terminate everything we started, then clean up."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.workdir is not None and os.environ.get("HEADWATER_KEEP_TEST_LOGS") is None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _base_env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env.update(
        HEADWATER_CONFIG=str(TEST_CONFIG),
        HEADWATER_LOG_LEVEL="info",
        HEADWATER_WS_SESSION_TTL_S=str(WS_SESSION_TTL_S),
        HEADWATER_DEFAULT_ASSISTANT="agent",
        HEADWATER_THREAD_SWEEP_S="0.5",
        PYTHONUNBUFFERED="1",
    )
    return env


def start_dev(extra_env: dict[str, str] | None = None) -> Deployment:
    """``headwater dev`` on a free port with its own SQLite files."""
    workdir = Path(tempfile.mkdtemp(prefix="hw-dev-"))
    port = free_port()
    env = _base_env(workdir)
    env.update(
        HEADWATER_PORT=str(port),
        HEADWATER_DATABASE_URL=f"sqlite+aiosqlite:///{workdir}/headwater.sqlite",
    )
    env.update(extra_env or {})
    deployment = Deployment("dev", f"http://127.0.0.1:{port}", env, workdir)
    deployment.spawn("dev", "dev")
    try:
        deployment.wait_ready("dev", deployment.base_url, "/ok")
    except TimeoutError:
        print(deployment.log_of("dev"))
        deployment.stop()
        raise
    return deployment


def start_cluster(
    nats_url: str,
    database_url: str,
    namespace: str,
    *,
    workers: int = 2,
    sim_url: str | None = None,
    concurrency: int = 4,
    process_env: dict[str, dict[str, str]] | None = None,
) -> Deployment:
    """One API, ``workers`` workers, the simulator (unless ``sim_url``); real NATS and PostgreSQL."""
    workdir = Path(tempfile.mkdtemp(prefix="hw-cluster-"))
    api_port, sim_port, memory_port = free_port(), free_port(), free_port()
    env = _base_env(workdir)
    env.update(
        HEADWATER_PORT=str(api_port),
        HEADWATER_NATS_URL=nats_url,
        HEADWATER_DATABASE_URL=database_url,
        HEADWATER_NAMESPACE=namespace,
        HEADWATER_LLM_BASE_URL=sim_url or f"http://127.0.0.1:{sim_port}/v1",
        HEADWATER_TRANSCRIPTION_BASE_URL=sim_url or f"http://127.0.0.1:{sim_port}/v1",
        HEADWATER_ACK_WAIT_S="3",
        HEADWATER_WORKER_CONCURRENCY=str(concurrency),
        HEADWATER_MEMORY_URL=f"http://127.0.0.1:{memory_port}",
        HEADWATER_SERVICE_TOKEN=f"service-{uuid.uuid4().hex}",
        HEADWATER_DRAIN_TIMEOUT_S="5",
    )
    deployment = Deployment("cluster", f"http://127.0.0.1:{api_port}", env, workdir)
    deployment.env_by_process.update(process_env or {})
    migrate = subprocess.run(  # process_env["migrate"]: e.g. another checkout's PYTHONPATH
        headwater("migrate", "--streams"),
        env={**env, **deployment.env_by_process.get("migrate", {})},
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    if migrate.returncode != 0:
        raise RuntimeError(f"headwater migrate failed: {migrate.stderr.decode()}")
    if sim_url is None:
        deployment.spawn("simllm", "simllm", "--port", str(sim_port))
    deployment.env_by_process.setdefault("memory", {})["HEADWATER_PORT"] = str(memory_port)
    deployment.spawn("memory", "memory")
    for i in range(workers):
        deployment.spawn(f"worker{i}", "worker")
    deployment.spawn("api", "api")
    try:
        if sim_url is None:
            wait_for_port(
                sim_port,
                name="simllm",
                process=deployment.processes["simllm"],
                log=workdir / "simllm.log",
            )
        deployment.wait_ready("api", deployment.base_url)
        deployment.wait_ready("memory", f"http://127.0.0.1:{memory_port}")
        for name, port in deployment.metrics_ports.items():  # workers loaded their graphs
            deployment.wait_ready(name, f"http://127.0.0.1:{port}")
    except TimeoutError:
        for name in deployment.processes:
            print(f"--- {name}\n{deployment.log_of(name)}")
        deployment.stop()
        raise
    return deployment


@dataclass
class UpDeployment:
    """``headwater up --workers 2``: the whole topology as a user starts it on a laptop."""

    deployment: Deployment
    process: subprocess.Popen[bytes]
    folder: Path

    def stop(self) -> None:
        """Ctrl-C, as a user stops it; everything must be gone within the wait."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if os.environ.get("HEADWATER_KEEP_TEST_LOGS") is None:
            shutil.rmtree(self.folder, ignore_errors=True)


def start_up(workers: int = 2) -> UpDeployment:
    """``headwater up`` on a free port, data in a temporary folder, the suite's graphs."""
    folder = Path(tempfile.mkdtemp(prefix="hw-up-"))
    folder.chmod(0o755)  # as root, the embedded PostgreSQL runs as an unprivileged account
    port = free_port()
    log = open(folder / "up.log", "ab")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(
        headwater(
            "up",
            "--workers",
            str(workers),
            "--port",
            str(port),
            "--data",
            str(folder / "data"),
            "--config",
            str(TEST_CONFIG),
        ),
        env=_base_env(folder),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=folder,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, "/readyz", timeout=180.0)
    except TimeoutError as exc:
        process.kill()
        process.wait()
        tail = (folder / "up.log").read_text(errors="replace")[-3000:]
        raise TimeoutError(f"headwater up did not get ready: {exc}\n{tail}") from exc
    # No workdir and no process handles: tests that restart or kill processes skip it,
    # as they skip an external deployment.
    return UpDeployment(Deployment("up", url), process, folder)

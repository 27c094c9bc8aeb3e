"""The fault suite's own cluster: two APIs, two workers, the simulator, its own nats-server and
its own PostgreSQL database reached through a proxy that can be cut.

NATS is a throwaway ``nats-server -js`` with a store directory, so it can be killed (SIGKILL
or SIGTERM) and restarted on the same port with its streams. PostgreSQL is the machine's
shared server; the services reach their database through :class:`TcpProxy`, whose cut is an
outage for them only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.e2e.harness import ROOT, TEST_CONFIG, Deployment, headwater, wait_until_ready
from tests.faults.proxy import TcpProxy
from tests.services import NatsServer, create_database, drop_database, free_port, wait_for_port

LONG = "fault-long"
"""A prompt the simulator answers with ``LONG_TOKENS`` tokens, ``TOKEN_DELAY_MS`` apart."""
LONG_TOKENS = 200
TOKEN_DELAY_MS = 20.0
OUTLAST = "fault-outlast"
"""A prompt answered with ``OUTLAST_TOKENS`` tokens: a run that outlasts an 8 s outage."""
OUTLAST_TOKENS = 500
SHORT = "fault-short"
"""A prompt answered at once with ``SHORT_TOKENS`` tokens."""
SHORT_TOKENS = 5
RULES = [
    {"contains": LONG, "reply_tokens": LONG_TOKENS, "token_delay_ms": TOKEN_DELAY_MS},
    {"contains": OUTLAST, "reply_tokens": OUTLAST_TOKENS, "token_delay_ms": TOKEN_DELAY_MS},
    {"contains": SHORT, "reply_tokens": SHORT_TOKENS, "token_delay_ms": 0.0},
]
APIS = ("api0", "api1")
WORKERS = ("worker0", "worker1")


class FaultNats(NatsServer):
    """The suite's nats-server (the wheel's): stopped with a chosen signal, restarted on the
    same port with the same store."""

    def stop(self, sig: int = signal.SIGTERM) -> None:  # type: ignore[override]
        super().stop(timeout=30, sig=sig)


@dataclass
class FaultCluster:
    """Everything a fault test needs to break things and look at the result."""

    deployment: Deployment
    nats: FaultNats
    pg: TcpProxy
    database_url: str
    api_urls: dict[str, str] = field(default_factory=dict)
    metrics_urls: dict[str, str] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return self.api_urls[APIS[0]]

    def kill_nats(self, sig: int, outage_s: float) -> None:
        """Stop nats-server with ``sig``; restart it ``outage_s`` seconds later."""
        self.nats.stop(sig)
        time.sleep(outage_s)
        self.nats.start()

    def busy_worker(self, timeout: float = 10.0) -> str:
        """The worker executing a run right now (its ``runs_in_progress`` gauge)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, url in self.metrics_urls.items():
                if self.deployment.processes[name].poll() is not None:
                    continue
                text = httpx.get(f"{url}/metrics", timeout=2).text
                for line in text.splitlines():
                    if line.startswith("headwater_worker_runs_in_progress ") and float(
                        line.split()[1]
                    ):
                        return name
            time.sleep(0.05)
        raise TimeoutError("no worker is executing a run")

    def respawn(self, name: str) -> None:
        """Start a killed worker or API again and wait until it is ready."""
        process = self.deployment.processes[name]
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        self.deployment.spawn(name, "api" if name.startswith("api") else "worker")
        url = self.api_urls.get(name) or self.metrics_urls[name]
        wait_until_ready(url, "/readyz", timeout=60)

    def all_ready(self, timeout: float = 60.0) -> None:
        for url in [*self.api_urls.values(), *self.metrics_urls.values()]:
            wait_until_ready(url, "/readyz", timeout=timeout)

    def worker_log_lines(self, *needles: str) -> int:
        """How many lines of the workers' logs so far contain one of ``needles``."""
        return sum(
            any(needle in line for needle in needles)
            for name in WORKERS
            for line in self.deployment.log_of(name).splitlines()
        )

    def logs(self) -> str:
        return "\n".join(
            f"--- {name}\n{self.deployment.log_of(name)[-4000:]}"
            for name in self.deployment.processes
        )

    def stop(self) -> None:
        self.deployment.stop()
        self.pg.close()
        self.nats.cleanup()
        drop_database(self.database_url)


def _proxied(database_url: str, port: int) -> str:
    head, rest = database_url.split("@", 1)
    return f"{head}@127.0.0.1:{port}/{rest.split('/', 1)[1]}"


def start_fault_cluster() -> FaultCluster:
    """Start the cluster; the caller stops it."""
    nats = FaultNats()
    nats.start()
    database_url = create_database()
    target_port = int(database_url.split("@", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    pg = TcpProxy(target_port).start()
    workdir = Path(tempfile.mkdtemp(prefix="hw-faults-"))
    rules = workdir / "rules.json"
    rules.write_text(json.dumps(RULES))
    sim_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env |= {
        "HEADWATER_CONFIG": str(TEST_CONFIG),
        "HEADWATER_LOG_LEVEL": "info",
        "HEADWATER_DEFAULT_ASSISTANT": "agent",
        "HEADWATER_NATS_URL": nats.url,
        "HEADWATER_DATABASE_URL": _proxied(database_url, pg.port),
        "HEADWATER_NAMESPACE": f"f{uuid.uuid4().hex[:8]}",
        "HEADWATER_LLM_BASE_URL": f"http://127.0.0.1:{sim_port}/v1",
        "HEADWATER_WORKER_CONCURRENCY": "16",
        "HEADWATER_DRAIN_TIMEOUT_S": "5",
        "HEADWATER_THREAD_SWEEP_S": "0",
        "HEADWATER_CRON_POLL_S": "0",
        "PYTHONUNBUFFERED": "1",
    }
    deployment = Deployment("cluster", "", env, workdir)
    cluster = FaultCluster(deployment, nats, pg, database_url)
    try:
        migrate = subprocess.run(
            headwater("migrate", "--streams"), env=env, cwd=ROOT, capture_output=True, timeout=120
        )
        if migrate.returncode != 0:
            raise RuntimeError(f"headwater migrate failed: {migrate.stderr.decode()}")
        deployment.spawn("simllm", "simllm", "--port", str(sim_port), "--rules", str(rules))
        for name in WORKERS:
            deployment.spawn(name, "worker")
            cluster.metrics_urls[name] = f"http://127.0.0.1:{deployment.metrics_ports[name]}"
        for name in APIS:
            port = free_port()
            deployment.env_by_process[name] = {"HEADWATER_PORT": str(port)}
            deployment.spawn(name, "api")
            cluster.api_urls[name] = f"http://127.0.0.1:{port}"
        deployment.base_url = cluster.api
        wait_for_port(sim_port, timeout=60)
        cluster.all_ready()
    except BaseException:
        print(cluster.logs())
        cluster.stop()
        raise
    return cluster

"""The dev overlay's Headwater containers, run as local processes: commands, env, ports, probes.

Each rendered Deployment and Job whose image is a Headwater image runs as ``headwater <args>``
from this checkout (the image's ``/app`` is the checkout), with the environment Kubernetes
would give it (``envFrom`` ConfigMap and Secret, then ``env``), its init containers first.
Service names become 127.0.0.1 ports: each container port gets a free local port, and a URL
naming a Service (``http://llm/v1``, ``http://headwater-memory``) points at the port behind
it. NATS and PostgreSQL are the test's own (a throwaway nats-server, a fresh database);
third-party workloads (the tracing collector, Jaeger) are left out, and so is their endpoint.
Then every readiness and liveness probe must answer 200 and a run must stream through the
API Service, so the manifests' commands, variable names, ports and probe paths are proven
together.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import yaml

from tests.programs import program_or_skip
from tests.services import NatsServer, create_database, drop_database, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
ROOT = Path(__file__).resolve().parents[2]
OVERLAY = ROOT / "deploy" / "k8s" / "overlays" / "dev"
IMAGE_WORKDIR = "/app"  # docker/*.Dockerfile: WORKDIR /app, examples under /app/examples
START_S = 240.0


def render() -> list[dict[str, Any]]:
    kubectl = program_or_skip(
        "kubectl",
        "it renders the manifests (kubectl kustomize)",
        "install it: https://kubernetes.io/docs/tasks/tools/",
    )
    out = subprocess.run(
        [kubectl, "kustomize", str(OVERLAY)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def is_headwater(container: dict[str, Any]) -> bool:
    return "/headwater-" in container["image"] or container["image"].startswith("headwater-")


@dataclass
class Workload:
    """One Deployment or Job: its pod spec and the local port of each container port."""

    doc: dict[str, Any]
    ports: dict[int, int] = field(default_factory=dict)
    named: dict[str, int] = field(default_factory=dict)

    @property
    def spec(self) -> dict[str, Any]:
        return dict(self.doc["spec"]["template"]["spec"])

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.doc["spec"]["template"].get("metadata", {}).get("labels", {}))


class LocalCluster:
    """Maps the rendered objects onto local processes."""

    def __init__(self, docs: list[dict[str, Any]], nats_url: str, database_url: str) -> None:
        self.docs = docs
        self.nats_url = nats_url
        self.database_url = database_url
        self.workdir = Path(tempfile.mkdtemp(prefix="hw-k8s-local-"))
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.workloads = [
            Workload(d)
            for d in docs
            if d["kind"] in ("Deployment", "Job")
            and all(is_headwater(c) for c in d["spec"]["template"]["spec"]["containers"])
        ]
        for workload in self.workloads:
            for container in workload.spec["containers"]:
                for port in container.get("ports", []):
                    local = free_port()
                    workload.ports[port["containerPort"]] = local
                    if "name" in port:
                        workload.named[port["name"]] = local
        self.services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
        self.mounts = self._config_maps_on_disk()

    def _object(self, kind: str, name: str) -> dict[str, Any]:
        return next(d for d in self.docs if d["kind"] == kind and d["metadata"]["name"] == name)

    def _config_maps_on_disk(self) -> dict[str, Path]:
        """ConfigMap volumes written to folders, by the name of the ConfigMap."""
        folders: dict[str, Path] = {}
        for doc in self.docs:
            if doc["kind"] == "ConfigMap":
                folder = self.workdir / "configmaps" / doc["metadata"]["name"]
                folder.mkdir(parents=True)
                for key, value in (doc.get("data") or {}).items():
                    (folder / key).write_text(value)
                folders[doc["metadata"]["name"]] = folder
        return folders

    def service_target(self, host: str, port: int | None) -> int | None:
        """The local port behind ``host:port`` when ``host`` is a Service we run."""
        service = self.services.get(host)
        if service is None:
            return None
        selector = service["spec"].get("selector", {})
        backing = next(
            (w for w in self.workloads if selector.items() <= w.labels.items()),
            None,
        )
        if backing is None:
            return None
        entries = service["spec"]["ports"]
        entry = next((e for e in entries if e["port"] == (port or 80)), entries[0])
        target = entry.get("targetPort", entry["port"])
        return backing.named.get(target) if isinstance(target, str) else backing.ports.get(target)

    def rewrite_value(self, name: str, value: str, workload: Workload) -> str | None:
        """A container's variable, as this machine needs it (None: leave it out)."""
        if name == "HEADWATER_DATABASE_URL":
            return self.database_url  # the manifests' credentials are the placeholder's
        if value == "0.0.0.0":
            return "127.0.0.1"
        if value.isdigit() and int(value) in workload.ports:
            return str(workload.ports[int(value)])
        if value.startswith(IMAGE_WORKDIR + "/"):
            return str(ROOT / value.removeprefix(IMAGE_WORKDIR + "/"))
        for container in workload.spec["containers"]:
            for mount in container.get("volumeMounts", []):
                if value.startswith(mount["mountPath"] + "/"):
                    volume = next(v for v in workload.spec["volumes"] if v["name"] == mount["name"])
                    folder = self.mounts[volume["configMap"]["name"]]
                    return str(folder / value.removeprefix(mount["mountPath"] + "/"))
        if "://" in value:
            parts = urlsplit(value)
            if parts.hostname == "nats":
                return self.nats_url
            if parts.hostname in self.services:
                local = self.service_target(parts.hostname, parts.port)
                if local is None:
                    return None  # a third-party Service we do not run (tracing)
                return urlunsplit(parts._replace(netloc=f"127.0.0.1:{local}"))
        return value

    def environment(self, workload: Workload, container: dict[str, Any]) -> dict[str, str]:
        raw: dict[str, str] = {}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                data = self._object("ConfigMap", source["configMapRef"]["name"]).get("data", {})
            else:
                secret = self._object("Secret", source["secretRef"]["name"])
                data = secret.get("stringData", {})
            raw.update({k: str(v) for k, v in data.items()})
        for item in container.get("env", []):
            assert "value" in item, f"unsupported env source {item}"
            raw[item["name"]] = str(item["value"])
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HEADWATER_", "OTEL_"))}
        for name, value in raw.items():
            local = self.rewrite_value(name, value, workload)
            if local is not None:
                env[name] = local
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def command(self, workload: Workload, container: dict[str, Any]) -> list[str]:
        assert "command" not in container, "Headwater images run `headwater <args>`"
        args = [self.rewrite_value("", a, workload) or a for a in container.get("args", ["--help"])]
        return [sys.executable, "-m", "headwater.cli.main", *args]

    def start(self, workload: Workload, container: dict[str, Any]) -> subprocess.Popen[bytes]:
        name = f"{workload.doc['metadata']['name']}.{container['name']}"
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - as long as the process
        process = subprocess.Popen(
            self.command(workload, container),
            env=self.environment(workload, container),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop(self) -> dict[str, int]:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = {}
        for name, process in self.processes.items():
            try:
                codes[name] = process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = process.wait()
        return codes


@pytest.fixture
def database_url() -> Iterator[str]:
    url = create_database()  # fresh: the Pods must wait for the migration Job
    yield url
    drop_database(url)


def wait_200(
    url: str, process: subprocess.Popen[bytes], what: str, log: Callable[[], str] = str
) -> None:
    deadline = time.monotonic() + START_S
    last: object = None
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{what} exited with {process.returncode}: {log()}"
        try:
            answer = httpx.get(url, timeout=3)
            if answer.status_code == 200:
                return
            last = answer.status_code
        except httpx.TransportError as exc:
            last = exc
        time.sleep(0.3)
    raise TimeoutError(f"{what}: {url} answered {last!r}")


def test_dev_overlay_runs_as_local_processes(
    nats_server: NatsServer, database_url: str, tmp_path: Path
) -> None:
    cluster = LocalCluster(render(), nats_server.url, database_url)
    names = {w.doc["metadata"]["name"] for w in cluster.workloads}
    assert names == {
        "headwater-api",
        "headwater-worker",
        "headwater-memory",
        "llm",
        "headwater-migrate",
        "headwater-streams",
    }
    try:
        inits = []
        for workload in cluster.workloads:  # everything at once, as kubectl apply does
            for init in workload.spec.get("initContainers", []):
                inits.append((workload, cluster.start(workload, init)))
            if workload.doc["kind"] == "Job" or not workload.spec.get("initContainers"):
                for container in workload.spec["containers"]:
                    cluster.start(workload, container)
        for workload, process in inits:
            assert process.wait(timeout=START_S) == 0, cluster.log(
                f"{workload.doc['metadata']['name']}.wait-for-migrations"
            )
            for container in workload.spec["containers"]:
                cluster.start(workload, container)
        for workload in cluster.workloads:
            if workload.doc["kind"] == "Job":
                for container in workload.spec["containers"]:
                    name = f"{workload.doc['metadata']['name']}.{container['name']}"
                    assert cluster.processes[name].wait(timeout=START_S) == 0, cluster.log(name)
                continue
            for container in workload.spec["containers"]:
                name = f"{workload.doc['metadata']['name']}.{container['name']}"
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    check = container.get(probe, {}).get("httpGet")
                    if check is None:
                        continue
                    port = check["port"]
                    local = workload.named[port] if isinstance(port, str) else workload.ports[port]
                    wait_200(
                        f"http://127.0.0.1:{local}{check['path']}",
                        cluster.processes[name],
                        f"{name} {probe}",
                        lambda name=name: cluster.log(name),  # type: ignore[misc]
                    )
        api = cluster.service_target("headwater-api", 80)
        answer = httpx.post(
            f"http://127.0.0.1:{api}/runs/wait",
            json={
                "assistant_id": "agent",
                "input": {"messages": [{"role": "user", "content": "please calculate 6*7"}]},
            },
            timeout=120,
        )
        assert answer.status_code == 200, answer.text
        assert [m["content"] for m in answer.json()["messages"]][-2:] == [
            "42",
            "The tool returned: 42.",
        ]
    finally:
        codes = cluster.stop()
        logs = {name: cluster.log(name) for name in cluster.processes}
        shutil.rmtree(cluster.workdir, ignore_errors=True)
    assert all(code == 0 for code in codes.values()), codes
    assert not [name for name, text in logs.items() if "Traceback" in text]

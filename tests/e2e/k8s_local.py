"""The dev overlay's Headwater containers, run as local processes (tests/e2e/test_k8s_local.py
and the ``k8s`` deployment kind of the e2e suite).

Each rendered Deployment and Job whose image is a Headwater image runs as ``headwater <args>``
from this checkout (the image's ``/app`` is the checkout), with the environment Kubernetes
would give it (``envFrom`` ConfigMap and Secret, then ``env``), its init containers first.
Service names become 127.0.0.1 ports: each container port gets a free local port, and a URL
naming a Service (``http://llm/v1``, ``http://headwater-memory``) points at the port behind
it. NATS and PostgreSQL are the test's own (a throwaway nats-server, a fresh database);
third-party workloads (the tracing collector, Jaeger) are left out, and so is their endpoint.
:meth:`LocalCluster.start` starts everything as ``kubectl apply`` would (at once; init
containers gate their pods) and returns when every readiness and liveness probe answers 200.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import yaml

from tests.programs import program_or_skip
from tests.services import free_port

ROOT = Path(__file__).resolve().parents[2]
OVERLAY = ROOT / "deploy" / "k8s" / "overlays" / "dev"
IMAGE_WORKDIR = "/app"  # docker/*.Dockerfile: WORKDIR /app, examples under /app/examples
START_S = 240.0


def render() -> list[dict[str, Any]]:
    """The dev overlay, rendered by kubectl (skipped without it; a failure under CI)."""
    kubectl = program_or_skip(
        "kubectl",
        "it renders the manifests (kubectl kustomize)",
        "install it: https://kubernetes.io/docs/tasks/tools/",
    )
    out = subprocess.run(
        [kubectl, "kustomize", str(OVERLAY)], capture_output=True, text=True, timeout=60
    )
    if out.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {OVERLAY} failed: {out.stderr}")
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
        """Map ``docs`` (the rendered overlay) onto this machine."""
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
            if parts.hostname is not None and parts.hostname in self.services:
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

    def run(self, workload: Workload, container: dict[str, Any]) -> subprocess.Popen[bytes]:
        """Start one container's process."""
        name = self.container_name(workload, container)
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

    def configure(self, **values: str) -> None:
        """Set entries of the ``headwater-env`` ConfigMap, as a kustomize patch would."""
        self._object("ConfigMap", "headwater-env").setdefault("data", {}).update(values)

    def configure_file(self, config_map: str, key: str, text: str) -> None:
        """Replace one file of a ConfigMap (and of its mounted folder)."""
        self._object("ConfigMap", config_map).setdefault("data", {})[key] = text
        (self.mounts[config_map] / key).write_text(text)

    def container_name(self, workload: Workload, container: dict[str, Any]) -> str:
        return f"{workload.doc['metadata']['name']}.{container['name']}"

    def start(self) -> None:
        """Everything at once, as ``kubectl apply`` does: Jobs and pods without init
        containers now, the others once their init containers exit 0; returns when the Jobs
        have succeeded and every probe answers 200."""
        inits = []
        for workload in self.workloads:
            for init in workload.spec.get("initContainers", []):
                inits.append((workload, init, self.run(workload, init)))
            if workload.doc["kind"] == "Job" or not workload.spec.get("initContainers"):
                for container in workload.spec["containers"]:
                    self.run(workload, container)
        for workload, init, process in inits:
            name = self.container_name(workload, init)
            if process.wait(timeout=START_S) != 0:
                raise RuntimeError(f"{name} exited with {process.returncode}: {self.log(name)}")
            for container in workload.spec["containers"]:
                self.run(workload, container)
        for workload in self.workloads:
            for container in workload.spec["containers"]:
                name = self.container_name(workload, container)
                if workload.doc["kind"] == "Job":
                    if self.processes[name].wait(timeout=START_S) != 0:
                        raise RuntimeError(f"{name} failed: {self.log(name)}")
                    continue
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    check = container.get(probe, {}).get("httpGet")
                    if check is None:
                        continue
                    port = check["port"]
                    local = workload.named[port] if isinstance(port, str) else workload.ports[port]
                    wait_200(
                        f"http://127.0.0.1:{local}{check['path']}",
                        self.processes[name],
                        f"{name} {probe}",
                        lambda name=name: self.log(name),  # type: ignore[misc]
                    )

    @property
    def api_url(self) -> str:
        """The API, where its Service sends port 80."""
        return f"http://127.0.0.1:{self.service_target('headwater-api', 80)}"

    def api_environment(self) -> dict[str, str]:
        """The API container's variables (tests read the database URL from them)."""
        api = next(w for w in self.workloads if w.doc["metadata"]["name"] == "headwater-api")
        return self.environment(api, api.spec["containers"][0])

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop(self) -> dict[str, int]:
        """SIGTERM to every process (SIGKILL after 40 s); their exit codes."""
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

    def cleanup(self) -> None:
        """Delete the processes' logs and ConfigMap folders."""
        if os.environ.get("HEADWATER_KEEP_TEST_LOGS") is None:
            shutil.rmtree(self.workdir, ignore_errors=True)


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

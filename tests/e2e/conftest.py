"""The e2e suite runs against dev mode, cluster mode, ``headwater up`` and, if given,
HEADWATER_E2E_URL; modules marked ``k8s_local`` also against the dev Kubernetes overlay run as
local processes (tests/e2e/k8s_local.py)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.harness import (
    TEST_CONFIG,
    WS_SESSION_TTL_S,
    Deployment,
    start_cluster,
    start_dev,
    start_up,
    wait_until_ready,
)
from tests.e2e.k8s_local import IMAGE_WORKDIR, ROOT, LocalCluster, render
from tests.services import NatsServer, create_database, drop_database

KINDS = ["dev", "cluster", "up"] + (["external"] if os.environ.get("HEADWATER_E2E_URL") else [])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each e2e test runs once per deployment kind; ``k8s_local`` modules once more (a
    representative set: the manifests' processes behave as the other kinds do)."""
    if "deployment" in metafunc.fixturenames:
        kinds = list(KINDS)
        if metafunc.definition.get_closest_marker("k8s_local"):
            kinds.insert(3, "k8s")
        metafunc.parametrize("deployment", kinds, indirect=True, scope="session")


@pytest.fixture(scope="session")
def dev_deployment() -> Iterator[Deployment]:
    deployment = start_dev()
    yield deployment
    deployment.stop()


@pytest.fixture(scope="session")
def cluster_deployment(nats_server: NatsServer, pg_url: str) -> Iterator[Deployment]:
    deployment = start_cluster(nats_server.url, pg_url, f"e2e{uuid.uuid4().hex[:8]}")
    yield deployment
    deployment.stop()


@pytest.fixture(scope="session")
def up_deployment() -> Iterator[Deployment]:
    """``headwater up --workers 2`` (embedded NATS and PostgreSQL, two workers)."""
    up = start_up()
    yield up.deployment
    up.stop()


@pytest.fixture(scope="session")
def k8s_deployment(nats_server: NatsServer) -> Iterator[Deployment]:
    """The dev overlay's containers as local processes, configured as a user's worker image
    with the suite's graphs would be (the headwater-env ConfigMap's entries)."""
    database_url = create_database()
    cluster = LocalCluster(render(), nats_server.url, database_url)
    cluster.configure(
        HEADWATER_NAMESPACE=f"k8s{uuid.uuid4().hex[:8]}",
        HEADWATER_CONFIG=f"{IMAGE_WORKDIR}/{TEST_CONFIG.relative_to(ROOT)}",
        HEADWATER_WS_SESSION_TTL_S=str(WS_SESSION_TTL_S),
        HEADWATER_DEFAULT_ASSISTANT="agent",
        HEADWATER_THREAD_SWEEP_S="0.5",
        HEADWATER_DRAIN_TIMEOUT_S="5",
    )
    # The API and memory service read langgraph.json from this ConfigMap (deploy/k8s/README.md).
    cluster.configure_file("headwater-langgraph-json", "langgraph.json", TEST_CONFIG.read_text())
    try:
        cluster.start()
        yield Deployment("k8s", cluster.api_url, cluster.api_environment())
    finally:
        cluster.stop()
        cluster.cleanup()
        drop_database(database_url)


@pytest.fixture(scope="session")
def deployment(request: pytest.FixtureRequest) -> Deployment:
    """The deployment of the kind this test runs against (see pytest_generate_tests)."""
    if request.param == "dev":
        return request.getfixturevalue("dev_deployment")
    if request.param == "cluster":
        return request.getfixturevalue("cluster_deployment")
    if request.param == "up":
        return request.getfixturevalue("up_deployment")
    if request.param == "k8s":
        return request.getfixturevalue("k8s_deployment")
    url = os.environ["HEADWATER_E2E_URL"].rstrip("/")
    wait_until_ready(url)
    return Deployment("external", url)

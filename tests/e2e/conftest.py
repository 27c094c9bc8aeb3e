"""The e2e suite runs against dev mode, cluster mode and, if given, HEADWATER_E2E_URL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.harness import Deployment, start_cluster, start_dev, start_up, wait_until_ready
from tests.services import NatsServer

KINDS = ["dev", "cluster", "up"] + (["external"] if os.environ.get("HEADWATER_E2E_URL") else [])


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


@pytest.fixture(scope="session", params=KINDS)
def deployment(request: pytest.FixtureRequest) -> Deployment:
    """Each e2e test runs once per deployment kind."""
    if request.param == "dev":
        return request.getfixturevalue("dev_deployment")
    if request.param == "cluster":
        return request.getfixturevalue("cluster_deployment")
    if request.param == "up":
        return request.getfixturevalue("up_deployment")
    url = os.environ["HEADWATER_E2E_URL"].rstrip("/")
    wait_until_ready(url)
    return Deployment("external", url)

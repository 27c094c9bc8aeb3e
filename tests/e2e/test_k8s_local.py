"""The dev overlay's Headwater containers, run as local processes: commands, env, ports, probes
(tests/e2e/k8s_local.py maps the manifests onto this machine).

Here on a fresh database, so the pods must wait for the migration Job: every workload starts,
every probe answers 200, a run goes through the API Service, and SIGTERM stops every process
cleanly. The e2e suite's contract tests run against the same deployment as the ``k8s`` kind
(tests/e2e/conftest.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.k8s_local import LocalCluster, render
from tests.services import NatsServer, create_database, drop_database

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


@pytest.fixture
def database_url() -> Iterator[str]:
    url = create_database()  # fresh: the Pods must wait for the migration Job
    yield url
    drop_database(url)


def test_dev_overlay_runs_as_local_processes(nats_server: NatsServer, database_url: str) -> None:
    cluster = LocalCluster(render(), nats_server.url, database_url)
    cluster.configure(HEADWATER_NAMESPACE=f"k8s{uuid.uuid4().hex[:8]}")  # the session's NATS
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
        cluster.start()
        answer = httpx.post(
            f"{cluster.api_url}/runs/wait",
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
        cluster.cleanup()
    assert all(code == 0 for code in codes.values()), codes
    assert not [name for name, text in logs.items() if "Traceback" in text]

"""The fault suite's cluster (one per session) and its table of measured figures.

``HEADWATER_FAULT_REPORT=path`` writes the figures of the tests that ran as a Markdown table
(docs/reliability.md shows the last one).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.cluster import FaultCluster, start_fault_cluster

FIGURES: list[dict[str, str]] = []
OUTCOME = pytest.StashKey[str]()


@pytest.fixture(scope="session")
def fault_cluster() -> Iterator[FaultCluster]:
    cluster = start_fault_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture
def cluster(fault_cluster: FaultCluster) -> Iterator[FaultCluster]:
    """The session's cluster, every part of it ready before and after the test."""
    fault_cluster.all_ready()
    yield fault_cluster
    try:
        fault_cluster.all_ready(timeout=30)
    except TimeoutError:
        print(fault_cluster.logs())
        raise


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call":
        xfail = hasattr(report, "wasxfail")
        item.stash[OUTCOME] = (
            ("xpassed" if report.passed else "xfailed") if xfail else report.outcome
        )
    return report


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """A row of the fault table: fill it in; it is recorded with the test's outcome."""
    row: dict[str, str] = {"fault": request.node.name}
    yield row
    row["outcome"] = request.node.stash.get(OUTCOME, "error")
    FIGURES.append(row)


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("HEADWATER_FAULT_REPORT")
    if not target or not FIGURES:
        return
    lines = [
        "| fault | outcome | figures |",
        "| --- | --- | --- |",
        *(
            f"| {row.pop('fault')} | {row.pop('outcome', '?')} | "
            + "; ".join(f"{k} {v}" for k, v in row.items())
            + " |"
            for row in FIGURES
        ),
    ]
    Path(target).write_text("\n".join(lines) + "\n")

"""The Grafana dashboard under deploy/k8s asks only for metrics Headwater really exports.

The exported names come from the metric definitions the services register (Prometheus's
registry after importing the API, the worker and the memory service), not from a list kept
here; each query's metric names are read out of its PromQL.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]
DASHBOARD = (
    Path(__file__).resolve().parents[2]
    / "deploy"
    / "k8s"
    / "components"
    / "monitoring"
    / "headwater-dashboard.json"
)
SERVICES = ("headwater.api.app", "headwater.worker.service", "headwater.memory.app")
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created", ""),
    "info": ("_info",),
}
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "rate", "irate", "increase", "histogram_quantile",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "offset", "bool", "topk", "bottomk", "abs", "clamp_min", "clamp_max", "delta", "deriv",
    "le", "vector", "scalar", "time", "label_replace",
}  # fmt: skip


def exported_samples() -> set[str]:
    """Every sample name the services' registered metrics can export."""
    for module in SERVICES:
        importlib.import_module(module)
    names: set[str] = set()
    for family in REGISTRY.collect():  # a labelled metric without children is listed too
        if family.name.startswith("headwater_"):
            names |= {family.name + s for s in SUFFIXES.get(family.type, ("",))}
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (labels, strings and ranges removed)."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # string literals
    bare = re.sub(r"\{[^}]*\}", "", bare)  # label matchers
    bare = re.sub(r"\[[^\]]*\]", "", bare)  # range selectors
    bare = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", bare)  # grouping labels
    words = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", bare))
    return {w for w in words if w not in PROMQL_WORDS and not w.startswith("$")}


def queries(dashboard: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            found.extend(t["expr"] for t in panel.get("targets", []) if t.get("expr"))
            walk(panel.get("panels", []))

    walk(dashboard["panels"])
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable.get("query")
            found.append(query["query"] if isinstance(query, dict) else str(query))
    return found


def test_every_query_names_a_metric_the_services_export() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exported = exported_samples()
    assert "headwater_runs_finished_total" in exported  # the registry was read
    exprs = queries(dashboard)
    assert len(exprs) >= 12
    for expr in exprs:
        names = metric_names(expr)
        assert names, f"no metric in {expr!r}"
        assert names <= exported, f"{expr!r} asks for {sorted(names - exported)}"


def test_the_dashboard_covers_what_operators_watch() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    used = set().union(*(metric_names(e) for e in queries(dashboard)))
    for metric in (
        "headwater_runs_finished_total",
        "headwater_llm_time_to_first_token_seconds_bucket",
        "headwater_llm_inter_token_seconds_bucket",
        "headwater_queue_pending_runs",
        "headwater_queue_oldest_pending_seconds",
        "headwater_worker_concurrency",
        "headwater_worker_runs_in_progress",
        "headwater_http_requests_total",
    ):
        assert metric in used, metric
    links = [link["url"] for link in dashboard["links"]]
    links += [link["url"] for panel in dashboard["panels"] for link in panel.get("links", [])]
    assert any("/search?service=headwater-worker" in url for url in links)  # into traces
    assert dashboard["uid"] == "headwater"


def test_the_name_reader_sees_through_promql() -> None:
    expr = 'histogram_quantile(0.9, sum by (le, pod) (rate(a_b_bucket{status=~"5.."}[5m]))) / on (pod) c'
    assert metric_names(expr) == {"a_b_bucket", "c"}

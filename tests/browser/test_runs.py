"""Runs table (live), the run inspector, and the workers page."""

from __future__ import annotations

import json

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.e2e.harness import Deployment

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def _agent_run(base: str, text: str) -> tuple[str, str]:
    """A finished run of the example agent; (thread_id, run_id)."""
    thread = httpx.post(f"{base}/threads", json={}).json()["thread_id"]
    run = httpx.post(
        f"{base}/threads/{thread}/runs",
        json={"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": text}]}},
    ).json()
    httpx.get(f"{base}/threads/{thread}/runs/{run['run_id']}/join", timeout=60)
    return thread, run["run_id"]


def _slow_run(base: str, steps: int = 60) -> tuple[str, str]:
    """A counter run that streams a step every 0.25 s; (thread_id, run_id)."""
    thread = httpx.post(f"{base}/threads", json={}).json()["thread_id"]
    run = httpx.post(
        f"{base}/threads/{thread}/runs",
        json={"assistant_id": "counter", "input": {"steps": steps, "delay": 0.25}},
    )
    assert run.status_code == 200, run.text
    return thread, run.json()["run_id"]


def test_runs_table_shows_a_streaming_run_and_cancels_it(
    page: Page, deployment: Deployment
) -> None:
    base = deployment.base_url
    page.goto(f"{base}/console/runs")
    expect(page.get_by_text("live", exact=True)).to_be_visible()
    thread, run_id = _slow_run(base)
    row = page.locator(f"[data-run-id='{run_id}']")
    expect(row).to_have_attribute("data-status", "running", timeout=30_000)
    expect(row).to_contain_text("counter")
    other_thread, other_run = _slow_run(base)
    other = page.locator(f"[data-run-id='{other_run}']")
    expect(other).to_have_attribute("data-status", "running", timeout=30_000)
    if deployment.kind == "cluster":
        screenshot(page, "runs")
    row.get_by_role("button", name="Cancel").click()
    expect(row).to_have_attribute("data-status", "interrupted", timeout=30_000)
    # The other run is untouched by the cancel and still streams.
    expect(other).to_have_attribute("data-status", "running")
    assert httpx.get(f"{base}/threads/{thread}/runs/{run_id}").json()["status"] == "interrupted"
    # Filters narrow the table to one assistant's runs with that status.
    page.get_by_label("Status filter").select_option("interrupted")
    expect(row).to_be_visible()
    expect(other).to_have_count(0)
    page.get_by_label("Assistant filter").fill("agent")
    expect(row).to_have_count(0)
    page.get_by_label("Assistant filter").fill("count")
    expect(row).to_be_visible()
    httpx.post(f"{base}/threads/{other_thread}/runs/{other_run}/cancel?action=interrupt")


def test_inspector_of_a_finished_run(page: Page, deployment: Deployment) -> None:
    base = deployment.base_url
    _, run_id = _agent_run(base, "please calculate 6*7")
    page.goto(f"{base}/console/runs/{run_id}")  # a deep link, loaded cold
    expect(page.get_by_role("heading", name=f"Run {run_id}")).to_be_visible()
    expect(page.locator(".status").first).to_have_text("success")
    nodes = page.get_by_test_id("waterfall-node")
    expect(nodes.filter(has_text="chat").first).to_be_visible()
    expect(nodes.filter(has_text="tools")).to_have_count(1)
    llm_rows = page.get_by_test_id("llm-calls").locator("tbody tr")
    expect(llm_rows).to_have_count(2)  # the tool call, then the answer
    expect(llm_rows.first).to_contain_text("chat")
    expect(page.get_by_role("table", name="Events")).to_contain_text("messages")
    expect(page.get_by_test_id("run-input")).to_contain_text("please calculate 6*7")
    page.locator(".checkpoint summary").first.click()
    expect(page.locator(".checkpoint").first).to_contain_text('"added"')
    if deployment.kind == "dev":
        screenshot(page, "inspector")


def test_workers_page(page: Page, deployment: Deployment) -> None:
    page.goto(f"{deployment.base_url}/console/workers")
    expected = 2 if deployment.kind == "cluster" else 1
    # Workers of this deployment are alive; a killed worker of another test that shares the
    # database may still be listed, as stale, until the survivors purge it.
    alive = page.get_by_test_id("worker-row").filter(has=page.locator(".status-success"))
    expect(alive).to_have_count(expected, timeout=30_000)
    expect(alive.first).to_contain_text("agent")
    if deployment.kind == "cluster":
        screenshot(page, "workers")


def _run_view(i: int, status: str) -> dict[str, object]:
    at = f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}+00:00"
    return {
        "run_id": f"run-{i:05d}",
        "thread_id": f"thread-{i:05d}",
        "assistant_id": "agent",
        "created_at": at,
        "updated_at": at,
        "status": status,
        "metadata": {"graph_id": "agent"},
        "attempt": 1,
        "worker_id": "w1",
        "started_at": at,
        "first_token_at": None,
        "ended_at": None,
        "queued_ms": 3.0,
        "ttft_ms": None,
        "duration_ms": None,
        "error": None,
    }


def test_runs_table_stays_light_with_a_thousand_runs(page: Page, console_dev: Deployment) -> None:
    """1,000 runs listed, 50 of them changing 40 times each: the table renders only the rows
    on screen and applies the 2,000 updates without a long freeze. The feed is a recorded
    stream served by the browser (route), the same bytes /runs/live sends."""
    runs = [_run_view(i, "running" if i >= 950 else "success") for i in range(1000)]
    queue = {"mode": "dev", "pending": 0, "ack_pending": 50, "redelivered": 0, "consumers": 1}
    frames = [
        f"event: snapshot\ndata: {json.dumps({'runs': runs, 'queue': queue, 'workers': []})}\n\n"
    ]
    for tick in range(40):
        for i in range(950, 1000):
            update = dict(runs[i], ttft_ms=float(tick), updated_at=f"tick {tick}")
            frames.append(f"event: run\ndata: {json.dumps(update)}\n\n")
    body = "".join(frames)
    page.route(
        "**/runs/live*",
        lambda route: route.fulfill(
            status=200, headers={"content-type": "text/event-stream"}, body=body
        ),
    )
    page.goto(f"{console_dev.base_url}/console/runs")
    expect(page.get_by_text("1000", exact=True)).to_be_visible()  # the "listed" figure
    rendered = page.locator("[data-run-id]").count()
    assert 0 < rendered < 80, f"{rendered} rows in the DOM for 1,000 runs"
    expect(page.locator("[data-run-id='run-00999']")).to_contain_text("39 ms")  # last TTFT
    long_tasks = page.evaluate(
        """() => new Promise((resolve) => {
            const seen = [];
            new PerformanceObserver((list) => seen.push(...list.getEntries().map(e => e.duration)))
              .observe({type: 'longtask', buffered: true});
            setTimeout(() => resolve(seen), 300);
        })"""
    )
    print(f"long tasks (ms) while loading 1,000 runs and 2,000 updates: {long_tasks}")
    assert max(long_tasks, default=0) < 1000, f"main thread blocked: {long_tasks}"
    # Scrolling to the bottom renders the oldest runs, still a bounded window.
    page.locator(".tbody").evaluate("el => el.scrollTop = el.scrollHeight")
    expect(page.locator("[data-run-id='run-00000']")).to_be_visible()
    assert page.locator("[data-run-id]").count() < 80

"""Runs table (live), the run inspector, and the workers page."""

from __future__ import annotations

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
    expect(page.get_by_test_id("worker-row")).to_have_count(expected, timeout=30_000)
    expect(page.get_by_test_id("worker-count")).to_have_text(str(expected))
    expect(page.get_by_test_id("worker-row").first).to_contain_text("agent")
    if deployment.kind == "cluster":
        screenshot(page, "workers")

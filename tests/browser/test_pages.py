"""The threads, store and crons pages, served pages and their headers, and auth in the browser."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.e2e.harness import Deployment, start_dev

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def test_console_is_served_with_deep_links_and_headers(deployment: Deployment) -> None:
    base = deployment.base_url
    index = httpx.get(f"{base}/console")
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    csp = index.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'self'" in csp
    assert index.headers["x-content-type-options"] == "nosniff"
    for page in ("runs", "runs/some-run", "workers", "threads", "store", "crons"):
        deep = httpx.get(f"{base}/console/{page}")
        assert deep.status_code == 200 and deep.content == index.content, page
    asset = index.text.split('src="', 1)[1].split('"', 1)[0]
    assert asset.startswith("/console/assets/")
    js = httpx.get(base + asset)
    assert js.status_code == 200
    assert "immutable" in js.headers["cache-control"]
    assert httpx.get(f"{base}/console/missing.js").status_code == 404
    assert httpx.get(f"{base}/console/assets/missing.js").status_code == 404
    config = httpx.get(f"{base}/console/config.json").json()
    assert config["auth"] == "none"
    assert config["mode"] == deployment.kind
    assert config["traces_url"] is None


def test_first_paint_is_fast(page: Page, deployment: Deployment) -> None:
    """The issue's budget: the console paints within a second of navigation."""
    page.goto(f"{deployment.base_url}/console/runs")
    expect(page.get_by_role("navigation", name="Pages")).to_be_visible()
    paint = page.evaluate(
        "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"
    )
    assert paint is not None and paint < 1000, f"first contentful paint after {paint} ms"


def test_threads_store_and_crons_pages(page: Page, deployment: Deployment) -> None:
    base = deployment.base_url
    marker = uuid.uuid4().hex[:8]
    thread = httpx.post(f"{base}/threads", json={"metadata": {"team": marker}}).json()
    httpx.post(
        f"{base}/threads/{thread['thread_id']}/runs/wait",
        json={"assistant_id": "counter", "input": {"steps": 2}},
        timeout=60,
    )
    put = httpx.put(
        f"{base}/store/items",
        json={
            "namespace": ["notes", marker],
            "key": "k1",
            "value": {"text": f"likes tea {marker}"},
        },
    )
    assert put.status_code in (200, 204), put.text
    cron = httpx.post(
        f"{base}/runs/crons",
        json={"assistant_id": "counter", "schedule": "0 0 1 1 *", "input": {"steps": 1}},
    )
    assert cron.status_code == 200, cron.text
    cron_id = cron.json()["cron_id"]

    page.goto(f"{base}/console/threads")
    page.get_by_label("Metadata").fill(f'{{"team": "{marker}"}}')
    page.get_by_role("button", name="Search").click()
    page.get_by_role("button", name=thread["thread_id"][-8:]).click()
    detail = page.get_by_role("region", name="Thread detail")
    expect(detail).to_contain_text('"count": 2')
    expect(detail).to_contain_text("step 2")
    if deployment.kind == "dev":
        screenshot(page, "threads")

    page.goto(f"{base}/console/store")
    page.get_by_role("button", name=f"notes / {marker}").click()
    expect(page.locator(".store-item")).to_contain_text(f"likes tea {marker}")
    page.get_by_label("Store query").fill("tea")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".store-item").first).to_contain_text("k1")
    if deployment.kind == "dev":
        screenshot(page, "store")

    page.goto(f"{base}/console/crons")
    row = page.get_by_role("row").filter(has_text=cron_id[-8:])
    expect(row).to_contain_text("0 0 1 1 *")
    if deployment.kind == "dev":
        screenshot(page, "crons")
    row.get_by_role("button", name="Pause").click()
    expect(row).to_contain_text("paused")
    assert httpx.get(f"{base}/runs/crons/{cron_id}").json()["enabled"] is False
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(0)
    assert httpx.get(f"{base}/runs/crons/{cron_id}").status_code == 404


@pytest.fixture(scope="module")
def keyed_dev() -> Iterator[Deployment]:
    """``headwater dev`` with API keys."""
    deployment = start_dev({"HEADWATER_AUTH": "apikey", "HEADWATER_API_KEYS": "k-alice:alice"})
    yield deployment
    deployment.stop()


def test_console_asks_for_an_api_key_once(page: Page, keyed_dev: Deployment) -> None:
    base = keyed_dev.base_url
    assert httpx.get(f"{base}/console/config.json").json()["auth"] == "apikey"
    assert httpx.get(f"{base}/threads/search").status_code in (401, 405)
    page.goto(f"{base}/console/runs")
    page.get_by_label("API key").fill("wrong-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Authentication failed")
    page.get_by_label("API key").fill("k-alice")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("live", exact=True)).to_be_visible()
    # Kept in the browser: a reload and another page need no second sign-in.
    page.goto(f"{base}/console")
    page.get_by_label("Message").fill("please calculate 6*7")
    page.get_by_label("Message").press("Enter")
    expect(page.get_by_test_id("msg-ai").last).to_contain_text("42", timeout=30_000)
    page.get_by_role("button", name="sign out").click()
    expect(page.get_by_label("API key")).to_be_visible()

"""The console in a real headless Chromium, against ``headwater dev`` and the cluster mode.

Debian's ``/usr/bin/chromium`` driven by Playwright (``.ci/run`` installs the package); nothing
downloads a browser. Screenshots are written only when ``HEADWATER_SCREENSHOTS_DIR`` is set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.e2e.harness import Deployment, start_cluster, start_dev
from tests.programs import under_ci
from tests.services import NatsServer

CHROMIUM = Path(os.environ.get("HEADWATER_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
KINDS = ["dev", "cluster"]


# Package scope, not session: the sync API keeps an event loop running in this thread while it
# is open, and every asyncio test after this package would find it and fail.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        # as for every program the tests take from the machine: a skip locally, a failure in CI
        message = f"{CHROMIUM} is missing: the console's browser tests run in Debian's chromium"
        if under_ci():
            pytest.fail(f"{message} (.ci/run installs it)")
        pytest.skip(f"{message} (apt-get install -y chromium)")
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def console_dev() -> Iterator[Deployment]:
    deployment = start_dev()
    yield deployment
    deployment.stop()


@pytest.fixture(scope="package")
def console_cluster(nats_server: NatsServer, pg_url: str) -> Iterator[Deployment]:
    deployment = start_cluster(nats_server.url, pg_url, f"ui{uuid.uuid4().hex[:8]}", workers=2)
    yield deployment
    deployment.stop()


@pytest.fixture(scope="package", params=KINDS)
def deployment(request: pytest.FixtureRequest) -> Deployment:
    """Each console test runs against dev mode and against the cluster mode."""
    return request.getfixturevalue(f"console_{request.param}")


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context per test; any uncaught page error fails the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"uncaught errors in the console: {errors}"


def screenshot(page: Page, name: str) -> None:
    """Saves ``<name>.png`` into ``HEADWATER_SCREENSHOTS_DIR`` when it is set (never in CI)."""
    folder = os.environ.get("HEADWATER_SCREENSHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))

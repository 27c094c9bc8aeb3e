"""The official JavaScript SDK (``@langchain/langgraph-sdk``, pinned in tests/js) against dev
and cluster mode: ``node --test tests/js`` with ``HEADWATER_URL`` set to the deployment.

Needs ``node`` and ``npm``: without them the test is skipped locally, and fails under CI
(``CI=true``), where .ci/run installs them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.harness import Deployment

pytestmark = [pytest.mark.e2e, pytest.mark.js, pytest.mark.timeout(600)]
JS_DIR = Path(__file__).resolve().parents[1] / "js"
JS_CHECKS = 7
"""The tests in tests/js/sdk.test.mjs."""


def _node_or_skip() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node and npm:
        return node, npm
    missing = "node" if node is None else "npm"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{missing} is missing under CI: .ci/run should have installed it")
    pytest.skip(f"{missing} is not installed: the JavaScript SDK checks need Node.js and npm")


@pytest.fixture(scope="session")
def node_modules() -> str:
    """``npm ci`` once per session (skipped when node_modules matches the lock file)."""
    node, npm = _node_or_skip()
    installed = JS_DIR / "node_modules" / ".package-lock.json"
    lock = JS_DIR / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
    return node


def test_official_js_sdk(node_modules: str, deployment: Deployment) -> None:
    done = subprocess.run(
        [node_modules, "--test", "--test-reporter=tap", "sdk.test.mjs"],
        cwd=JS_DIR,
        env={**os.environ, "HEADWATER_URL": deployment.base_url},
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = f"{done.stdout}\n{done.stderr}"
    assert done.returncode == 0, report
    assert "# fail 0" in report, report
    assert f"# pass {JS_CHECKS}" in report, report  # every check ran, none was skipped

"""The console's source never renders user content as HTML and loads nothing external."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "console" / "src"
DIST = ROOT / "services" / "api" / "src" / "headwater" / "api" / "console_dist"
HTML_SINKS = re.compile(
    r"dangerouslySetInnerHTML|\.innerHTML\s*=|outerHTML|insertAdjacentHTML|document\.write"
)


def test_no_html_sink_in_the_console_source() -> None:
    files = sorted(SOURCE.rglob("*.ts*"))
    assert files, "console/src is empty"
    offenders = [str(f.relative_to(ROOT)) for f in files if HTML_SINKS.search(f.read_text())]
    assert offenders == []


def test_the_shipped_index_loads_only_its_own_files() -> None:
    index = (DIST / "index.html").read_text()
    urls = re.findall(r'(?:src|href)="([^"]+)"', index)
    assert urls, index
    assert all(u.startswith("/console/assets/") or u == "data:," for u in urls), urls
    assert "<script>" not in index  # no inline script: the CSP allows none

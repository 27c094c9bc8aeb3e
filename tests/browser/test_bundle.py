"""The bundle shipped in headwater-api is the build of console/: rebuild it and compare."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from headwater.api.console import CONSOLE_DIST
from tests.programs import program_or_skip

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_shipped_bundle_is_built_from_the_source(tmp_path: Path) -> None:
    npm = program_or_skip(
        "npm", "the console's bundle is rebuilt from console/", ".ci/run installs Node.js and npm"
    )
    tracked = subprocess.run(
        ["git", "ls-files", "console"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "console/package-lock.json" in tracked
    for name in tracked:  # the committed source only: no local node_modules or stray files
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)
    source, out = tmp_path / "console", tmp_path / "out"
    for command in (
        [npm, "ci", "--no-audit", "--no-fund"],
        [npm, "run", "typecheck"],
        [npm, "exec", "--", "vite", "build", "--outDir", str(out), "--emptyOutDir"],
    ):
        done = subprocess.run(command, cwd=source, capture_output=True, text=True, timeout=500)
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    built, shipped = _hashes(out), _hashes(CONSOLE_DIST)
    assert "index.html" in shipped
    assert built == shipped, (
        "services/api/src/headwater/api/console_dist is not the build of console/: "
        "run `npm ci && npm run build` in console/ and commit the result"
    )

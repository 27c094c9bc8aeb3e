"""The suite's services need nothing installed on the machine: with every ``nats-server``,
``postgres`` and ``psql`` hidden from PATH and no ``HEADWATER_TEST_*`` URL, the fixtures start
the PyPI wheels' servers. Also: a server that cannot start says which one and shows its log."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nats
import psycopg
import pytest

from headwater.common.embedded import EmbeddedNats, EmbeddedPostgres, EmbeddedStartError
from tests.services import NatsServer, admin_dsn, free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SYSTEM_BINARIES = ("nats-server", "postgres", "pg_ctl", "initdb", "psql", "pg_ctlcluster")
PROBE = "HEADWATER_PROBE_EMBEDDED"


def path_without_servers() -> str:
    """PATH minus every folder holding a NATS or PostgreSQL program (the venv's too)."""
    folders = os.environ.get("PATH", "").split(os.pathsep)
    kept = [
        f for f in folders if not any(os.path.exists(os.path.join(f, b)) for b in SYSTEM_BINARIES)
    ]
    kept = [f for f in kept if not f.startswith(("/usr/lib/postgresql", "/usr/sbin", "/sbin"))]
    return os.pathsep.join(kept)


@pytest.mark.timeout(300)
def test_fixtures_need_no_system_services() -> None:
    path = path_without_servers()
    assert all(shutil.which(b, path=path) is None for b in SYSTEM_BINARIES)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_TEST_")}
    env.update(PATH=path, **{PROBE: "1"})
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"{__file__}::test_probe_uses_the_wheels",
            "tests/contract/test_bus.py::test_nats_restart_keeps_stored_events",
            "tests/integration/test_savers.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout, done.stdout[-2000:]


@pytest.mark.skipif(
    not os.environ.get(PROBE), reason="run by test_fixtures_need_no_system_services"
)
async def test_probe_uses_the_wheels(nats_server: NatsServer, pg_url: str) -> None:
    assert isinstance(nats_server, NatsServer) and nats_server.process is not None
    client = await nats.connect(nats_server.url)
    try:
        assert (await client.jetstream().account_info()).streams == 0
    finally:
        await client.close()
    admin = admin_dsn()
    assert ":5432/" not in admin, "not the machine's PostgreSQL"
    with psycopg.connect(admin, autocommit=True) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
        assert row is not None and int(row[0]) >= 180000
        available = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        assert available.fetchone() is not None, "pgvector ships with the embedded PostgreSQL"


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A temporary folder an unprivileged account can enter (PostgreSQL as root runs as one;
    pytest's tmp_path sits under a folder only root may enter)."""
    folder = Path(tempfile.mkdtemp(prefix="hw-embedded-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_server_that_cannot_start_names_itself_and_shows_its_log(open_dir: Path) -> None:
    tmp_path = open_dir
    taken = EmbeddedNats(tmp_path / "first")
    taken.start()
    try:
        second = EmbeddedNats(tmp_path / "second", port=taken.port)
        with pytest.raises(EmbeddedStartError) as caught:
            second.start(timeout=30)
        message = str(caught.value)
        assert message.startswith(f"nats-server on 127.0.0.1:{taken.port} exited with code")
        assert "last lines of" in message and "address already in use" in message.lower()
    finally:
        taken.stop()
    broken = EmbeddedPostgres(tmp_path / "pg", port=free_port())
    (tmp_path / "pg" / "pgdata").mkdir(parents=True)
    (tmp_path / "pg" / "pgdata" / "PG_VERSION").write_text("18\n")  # a cluster that is not one
    if os.geteuid() == 0:
        shutil.chown(tmp_path / "pg" / "pgdata", "nobody")
    with pytest.raises(EmbeddedStartError) as caught:
        broken.start(timeout=30)
    assert str(caught.value).startswith("postgres on 127.0.0.1:")
    assert "exited with code" in str(caught.value) and "last lines of" in str(caught.value)

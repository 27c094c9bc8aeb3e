"""Apply Alembic migrations programmatically (``headwater migrate``, dev start-up, tests)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from headwater.common.db.engine import sqlite_path

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at Headwater's migrations and ``database_url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database to ``revision``. Blocking: call it off the event loop."""
    path = sqlite_path(database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), revision)


MIGRATION_LOCK_KEY = 0x68656164  # "head": the advisory lock every ``headwater migrate`` takes
"""PostgreSQL advisory lock key held while migrating, so concurrent migrations queue."""


@contextlib.asynccontextmanager
async def migration_lock(database_url: str) -> AsyncIterator[None]:
    """Hold PostgreSQL's advisory lock for migrations for the block (SQLite: nothing).

    Two ``headwater migrate`` at once (a Kubernetes migrate Job beside the streams Job, two
    replicas starting) would otherwise race on ``CREATE TABLE`` and one would fail with a
    duplicate key in the catalogue; with the lock the second waits, then finds the work done.
    """
    if sqlite_path(database_url) is not None or not database_url.startswith("postgresql"):
        yield
        return
    # Autocommit: the lock is held by the session, not a transaction, so the connection
    # is not "idle in transaction" (which would block the checkpointer's CREATE INDEX
    # CONCURRENTLY for as long as the lock is held).
    engine = create_async_engine(database_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            # Poll with the non-blocking form: a statement blocked on the lock would itself
            # hold up the holder's CREATE INDEX CONCURRENTLY, and neither would finish.
            try_lock = text(f"SELECT pg_try_advisory_lock({MIGRATION_LOCK_KEY})")
            while not (await connection.execute(try_lock)).scalar():  # noqa: ASYNC110 - a lock in another process
                await asyncio.sleep(0.5)
            try:
                yield
            finally:
                await connection.execute(text(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
    finally:
        await engine.dispose()

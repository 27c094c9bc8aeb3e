"""The official LangGraph checkpointers: Postgres in the cluster, SQLite in dev."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from headwater.worker.savers import HeadwaterPostgresSaver, HeadwaterSqliteSaver, ThreadSaver


@contextlib.asynccontextmanager
async def open_checkpointer(
    dsn: str, *, pool_size: int = 10, setup: bool = False
) -> AsyncIterator[ThreadSaver]:
    """Open the checkpointer behind ``dsn``.

    PostgreSQL tables are created by ``headwater migrate`` (``setup=True``), never by every
    worker replica at start-up: concurrent set-ups deadlock. SQLite (dev, one process) is
    always set up.
    """
    if dsn.startswith("postgres"):
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        pool = AsyncConnectionPool(
            dsn,
            min_size=1,
            max_size=pool_size,
            open=False,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        )
        await pool.open()
        try:
            saver = HeadwaterPostgresSaver(pool)  # type: ignore[arg-type]
            if setup:
                await saver.setup()
            yield saver
        finally:
            await pool.close()
        return

    import aiosqlite

    if dsn != ":memory:":
        Path(dsn).parent.mkdir(parents=True, exist_ok=True)
    async with aiosqlite.connect(dsn) as conn:
        # WAL + NORMAL: a checkpoint write costs no fsync of its own (dev mode only).
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        sqlite_saver = HeadwaterSqliteSaver(conn)
        await sqlite_saver.setup()
        yield sqlite_saver

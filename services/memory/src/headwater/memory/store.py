"""The official LangGraph store (PostgreSQL, or SQLite in dev), scoped per owner."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from langgraph.store.base import BaseStore


@contextlib.asynccontextmanager
async def open_store(dsn: str, *, setup: bool) -> AsyncIterator[BaseStore]:
    """Open the store behind ``dsn`` (tables created by ``headwater migrate`` on PostgreSQL)."""
    if dsn.startswith("postgres"):
        from langgraph.store.postgres.aio import AsyncPostgresStore
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        pool = AsyncConnectionPool(
            dsn,
            min_size=1,
            max_size=10,
            open=False,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        )
        await pool.open()
        try:
            store = AsyncPostgresStore(pool)  # type: ignore[arg-type]
            if setup:
                await store.setup()
            yield store
        finally:
            await pool.close()
        return
    import aiosqlite
    from langgraph.store.sqlite.aio import AsyncSqliteStore

    if dsn != ":memory:":
        Path(dsn).parent.mkdir(parents=True, exist_ok=True)
    async with aiosqlite.connect(dsn, isolation_level=None) as conn:
        await conn.execute("PRAGMA journal_mode=WAL")
        sqlite_store = AsyncSqliteStore(conn)
        await sqlite_store.setup()
        yield sqlite_store


def owned(owner: str, namespace: tuple[str, ...]) -> tuple[str, ...]:
    """Every caller's items live under their own top-level label."""
    return ("owner:" + owner, *namespace)


def unowned(namespace: tuple[str, ...]) -> list[str]:
    """The namespace as the caller sees it."""
    return list(namespace[1:])

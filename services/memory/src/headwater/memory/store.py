"""The official LangGraph store (PostgreSQL, or SQLite in dev) behind one backend interface."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx
from langgraph.store.base import (
    GetOp,
    ListNamespacesOp,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
)

from headwater.common.settings import Settings
from headwater.memory.embeddings import HttpEmbedder
from headwater.memory.options import StoreOptions

OWNER_PREFIX = "owner:"
# The official stores resolve nothing themselves: every op carries its own ttl and refresh_ttl
# (the service applies langgraph.json's defaults). refresh_on_read only enables per-op
# refreshes in the SQLite store; omit_expired hides expired-but-unswept rows in PostgreSQL.
OFFICIAL_TTL: TTLConfig = {"refresh_on_read": True, "omit_expired": True}


class StoreBackend(Protocol):
    """What the service needs from a database: the official store plus ranking in SQL."""

    async def read(self, ops: Sequence[GetOp | ListNamespacesOp]) -> list[Result]:
        """Gets and namespace listings, expired items left out."""
        ...

    async def write(self, ops: Sequence[PutOp]) -> None:
        """Puts and deletes (``value=None``), embedding indexed fields when configured."""
        ...

    async def search(self, op: SearchOp) -> list[SearchItem]:
        """One page of items, ranked by ``op.query`` when given."""
        ...

    def ttl_minutes(self, ttl: float) -> float:
        """The TTL this database can keep for ``ttl`` minutes."""
        ...

    async def start_sweeper(self, minutes: float) -> None:
        """Delete expired items every ``minutes``."""
        ...

    async def stop_sweeper(self) -> None:
        """Stop deleting expired items."""
        ...


@contextlib.asynccontextmanager
async def open_backend(
    settings: Settings, options: StoreOptions, *, setup: bool
) -> AsyncIterator[StoreBackend]:
    """Open the store behind ``settings.store_dsn``; ``setup`` creates its tables and indexes
    (``headwater migrate``, dev; SQLite is always set up)."""
    async with contextlib.AsyncExitStack() as stack:
        embedder: HttpEmbedder | None = None
        if options.index is not None:
            headers = {"authorization": f"Bearer {_embeddings_key(settings)}"}
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=settings.embeddings_base_url, headers=headers, timeout=30
                )
            )
            embedder = HttpEmbedder(client, options.index.model, options.index.dims)
        dsn = settings.store_dsn
        if dsn.startswith("postgres"):
            yield await stack.enter_async_context(_postgres(dsn, options, embedder, setup))
        else:
            yield await stack.enter_async_context(_sqlite(dsn, options, embedder))


def _embeddings_key(settings: Settings) -> str:
    return settings.embeddings_api_key or settings.llm_api_key


@contextlib.asynccontextmanager
async def _postgres(
    dsn: str, options: StoreOptions, embedder: HttpEmbedder | None, setup: bool
) -> AsyncIterator[StoreBackend]:
    from langgraph.store.postgres.aio import AsyncPostgresStore
    from langgraph.store.postgres.base import PostgresIndexConfig
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    from headwater.memory.postgres_backend import PostgresBackend

    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        dsn,
        min_size=1,
        max_size=10,
        open=False,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    )
    await pool.open()
    try:
        fields = options.index.fields if options.index else ("$",)
        index: PostgresIndexConfig | None = None
        if embedder is not None:
            index = {
                "dims": await _vector_dims(pool, embedder),
                "embed": embedder.embed,
                "fields": list(fields),
                "distance_type": "cosine",
                "ann_index_config": {"kind": "hnsw"},
            }
        store = AsyncPostgresStore(pool, ttl=OFFICIAL_TTL, index=index)
        backend = PostgresBackend(store, pool, embedder, fields)
        await (backend.setup() if setup else backend.check())
        yield backend
    finally:
        await pool.close()


async def _vector_dims(pool: Any, embedder: HttpEmbedder) -> int:
    """The embedding size: ``store.index.dims``, else the one the vector table was made with,
    else what the model answers for a probe text."""
    if embedder.dims is not None:
        return embedder.dims
    async with pool.connection() as conn:
        found = await conn.execute(
            "SELECT atttypmod AS dims FROM pg_attribute WHERE attrelid = to_regclass("
            "'store_vectors') AND attname = 'embedding'"
        )
        row = await found.fetchone()
    if row is not None and row["dims"] > 0:
        return int(row["dims"])
    return len((await embedder.embed(["dimensions"]))[0])


@contextlib.asynccontextmanager
async def _sqlite(
    dsn: str, options: StoreOptions, embedder: HttpEmbedder | None
) -> AsyncIterator[StoreBackend]:
    import aiosqlite
    from langgraph.store.sqlite.aio import AsyncSqliteStore

    from headwater.memory.sqlite_backend import SqliteBackend

    if dsn != ":memory:":
        Path(dsn).parent.mkdir(parents=True, exist_ok=True)
    async with aiosqlite.connect(dsn, isolation_level=None) as conn:
        await conn.execute("PRAGMA journal_mode=WAL")
        # Vectors go with their item (ON DELETE CASCADE), also when INSERT OR REPLACE rewrites it.
        await conn.execute("PRAGMA foreign_keys=ON")
        store = AsyncSqliteStore(conn, ttl=OFFICIAL_TTL)
        fields = options.index.fields if options.index else ("$",)
        backend = SqliteBackend(store, embedder, fields)
        try:
            await backend.setup()
            yield backend
        finally:
            # The official store's batching task (for its aget/aput, which we do not call).
            task = store._task
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def owner_label(owner: str) -> str:
    """The top-level label of an owner's items; ``.`` (the namespace separator) is escaped so
    no owner id can reach into another owner's namespaces."""
    return OWNER_PREFIX + owner.replace("%", "%25").replace(".", "%2E").replace("\x00", "%00")


def owned(owner: str, namespace: Sequence[str]) -> tuple[str, ...]:
    """Every caller's items live under their own top-level label."""
    return (owner_label(owner), *namespace)


def unowned(namespace: Sequence[str]) -> list[str]:
    """The namespace as the caller sees it."""
    return list(namespace[1:])

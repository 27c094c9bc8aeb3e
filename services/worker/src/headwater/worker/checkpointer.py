"""The official LangGraph checkpointers: Postgres in the cluster, SQLite in dev."""

from __future__ import annotations

import contextlib
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)

from headwater.common.db.engine import PING_AFTER_IDLE_S
from headwater.common.outages import ride_out
from headwater.worker.savers import HeadwaterPostgresSaver, HeadwaterSqliteSaver, ThreadSaver

POOL_WAIT_S = 5.0
"""How long a checkpoint read or write waits for a pooled connection before it is retried."""


class OutlastingPostgresSaver(HeadwaterPostgresSaver):
    """The Postgres saver whose reads and writes during a run wait out a database outage.

    Checkpoint writes are upserts, so repeating one is safe; without the retries a restart
    of PostgreSQL fails every run in flight at its next step.
    """

    retry_s: float = 30.0

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await ride_out(
            lambda: HeadwaterPostgresSaver.aput(self, config, checkpoint, metadata, new_versions),
            what="saving a checkpoint",
            budget_s=self.retry_s,
        )

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await ride_out(
            lambda: HeadwaterPostgresSaver.aput_writes(self, config, writes, task_id, task_path),
            what="saving a step's writes",
            budget_s=self.retry_s,
        )

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await ride_out(
            lambda: HeadwaterPostgresSaver.aget_tuple(self, config),
            what="reading a checkpoint",
            budget_s=self.retry_s,
        )


class IdleCheck:
    """The pool's connection check, only for a connection idle for ``PING_AFTER_IDLE_S``.

    A check at every checkout is a round trip per checkpoint read or write (autocommit: one
    transaction each); connections in steady use skip it. One the server closed while it
    sat in the pool is still replaced before use; one that dies mid-burst fails its
    statement, which the retry around every read and write (``retry_s``) covers.
    """

    def __init__(self, ping: Callable[[Any], Awaitable[None]]) -> None:
        self.ping = ping
        self.idle_since: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    async def returned(self, connection: Any) -> None:
        """The pool's ``reset`` hook: the connection goes back to the pool now."""
        self.idle_since[connection] = time.monotonic()

    async def check(self, connection: Any) -> None:
        """The pool's ``check`` hook: raise if an idle connection is dead."""
        since = self.idle_since.get(connection)
        if since is None or time.monotonic() - since >= PING_AFTER_IDLE_S:
            await self.ping(connection)


@contextlib.asynccontextmanager
async def open_checkpointer(
    dsn: str, *, pool_size: int = 10, setup: bool = False, retry_s: float = 30.0
) -> AsyncIterator[ThreadSaver]:
    """Open the checkpointer behind ``dsn``.

    PostgreSQL tables are created by ``headwater migrate`` (``setup=True``), never by every
    worker replica at start-up: concurrent set-ups deadlock. SQLite (dev, one process) is
    always set up. PostgreSQL connections are checked before use (one the server closed
    in a restart is replaced) and reads and writes retry for ``retry_s`` during an outage.
    """
    if dsn.startswith("postgres"):
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        idle_check = IdleCheck(AsyncConnectionPool.check_connection)
        pool = AsyncConnectionPool(
            dsn,
            min_size=1,
            max_size=pool_size,
            open=False,
            timeout=POOL_WAIT_S,
            check=idle_check.check,
            reset=idle_check.returned,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        )
        await pool.open()
        try:
            saver = OutlastingPostgresSaver(pool)
            saver.retry_s = retry_s
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

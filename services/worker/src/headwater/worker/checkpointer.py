"""The official LangGraph checkpointers: Postgres in the cluster, SQLite in dev."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)

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

        pool = AsyncConnectionPool(
            dsn,
            min_size=1,
            max_size=pool_size,
            open=False,
            timeout=POOL_WAIT_S,
            check=AsyncConnectionPool.check_connection,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        )
        await pool.open()
        try:
            saver = OutlastingPostgresSaver(pool)  # type: ignore[arg-type]
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

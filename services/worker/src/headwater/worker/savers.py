"""The official LangGraph savers, with the thread operations they leave to implementations.

``BaseCheckpointSaver`` names ``acopy_thread`` and ``aprune`` but the PostgreSQL and SQLite
savers implement neither (PostgreSQL has ``aprune``). Headwater needs them for
``POST /threads/{id}/copy``, ``POST /threads/prune`` and rollback, so these subclasses add
them as SQL on the savers' own tables. Rollback needs one more thing no saver offers: a run
that resumes an interrupted thread writes onto the checkpoint it started from, which belongs
to an earlier run. :meth:`baseline` records which writes those checkpoints held before the
run; :meth:`arollback` deletes the run's checkpoints and every write it added.

The SQL follows each saver's schema (langgraph-checkpoint-postgres 3.x, -sqlite 3.x); the
tests run it against both, so a schema change upstream fails loudly.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

Head = tuple[str, str]
"""(checkpoint_ns, checkpoint_id) of a checkpoint a run may write onto."""
WriteKey = tuple[str, int]
"""(task_id, idx): one pending write of a checkpoint."""
Baseline = dict[Head, set[WriteKey]]
"""The writes each head checkpoint held when a run started."""


class ThreadSaver(BaseCheckpointSaver[str], abc.ABC):
    """A saver that can also copy, prune and roll back threads."""

    @abc.abstractmethod
    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint, blob and write of a thread to another thread id."""

    @abc.abstractmethod
    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """``delete``: every checkpoint of the threads; ``keep_latest``: all but the newest."""

    @abc.abstractmethod
    async def baseline(self, thread_id: str, start_checkpoint_id: str | None = None) -> Baseline:
        """The writes of the newest checkpoint of each namespace (and of the one a run forks
        from) before the run starts."""

    @abc.abstractmethod
    async def arollback(self, thread_id: str, run_id: str, baseline: Baseline) -> None:
        """Remove what a run saved: its checkpoints, and the writes it added to older ones."""


def _extra_writes(baseline: Baseline, rows: Sequence[Any]) -> list[tuple[str, str, str, int]]:
    """Writes on the baseline's heads that the baseline did not hold."""
    return [
        (row[0], row[1], row[2], int(row[3]))
        for row in rows
        if (row[0], row[1]) in baseline and (row[2], int(row[3])) not in baseline[(row[0], row[1])]
    ]


def _marks(count: int) -> str:
    return ", ".join("?" * count)


class HeadwaterPostgresSaver(AsyncPostgresSaver, ThreadSaver):
    """``AsyncPostgresSaver`` with copy and rollback."""

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        ids = {"source": source_thread_id, "target": target_thread_id}
        async with self._cursor() as cur, cur.connection.transaction():
            await cur.execute(
                """INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id,
                       parent_checkpoint_id, type, checkpoint, metadata)
                   SELECT %(target)s, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type,
                       checkpoint,
                       CASE WHEN metadata ? 'thread_id'
                            THEN jsonb_set(metadata, '{thread_id}', to_jsonb(%(target)s::text))
                            ELSE metadata END
                   FROM checkpoints WHERE thread_id = %(source)s""",
                ids,
            )
            await cur.execute(
                """INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version,
                       type, blob)
                   SELECT %(target)s, checkpoint_ns, channel, version, type, blob
                   FROM checkpoint_blobs WHERE thread_id = %(source)s""",
                ids,
            )
            await cur.execute(
                """INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id,
                       task_id, idx, channel, type, blob, task_path)
                   SELECT %(target)s, checkpoint_ns, checkpoint_id, task_id, idx, channel, type,
                       blob, task_path
                   FROM checkpoint_writes WHERE thread_id = %(source)s""",
                ids,
            )

    async def baseline(self, thread_id: str, start_checkpoint_id: str | None = None) -> Baseline:
        async with self._cursor() as cur:
            await cur.execute(
                """SELECT DISTINCT ON (checkpoint_ns) checkpoint_ns, checkpoint_id
                   FROM checkpoints WHERE thread_id = %s
                   ORDER BY checkpoint_ns, checkpoint_id DESC""",
                (thread_id,),
            )
            heads = {(r["checkpoint_ns"], r["checkpoint_id"]) for r in await cur.fetchall()}
            if start_checkpoint_id:
                heads.add(("", start_checkpoint_id))
            baseline: Baseline = {head: set() for head in heads}
            await cur.execute(
                """SELECT checkpoint_ns, checkpoint_id, task_id, idx FROM checkpoint_writes
                   WHERE thread_id = %s AND checkpoint_id = ANY(%s)""",
                (thread_id, [cid for _, cid in heads]),
            )
            for row in await cur.fetchall():
                head = (row["checkpoint_ns"], row["checkpoint_id"])
                if head in baseline:
                    baseline[head].add((row["task_id"], int(row["idx"])))
        return baseline

    async def arollback(self, thread_id: str, run_id: str, baseline: Baseline) -> None:
        ids = {"thread": thread_id, "run": run_id}
        async with self._cursor() as cur, cur.connection.transaction():
            await cur.execute(
                """DELETE FROM checkpoint_writes w USING checkpoints c
                   WHERE c.thread_id = %(thread)s AND c.metadata ->> 'run_id' = %(run)s
                     AND w.thread_id = c.thread_id AND w.checkpoint_ns = c.checkpoint_ns
                     AND w.checkpoint_id = c.checkpoint_id""",
                ids,
            )
            await cur.execute(
                """DELETE FROM checkpoints
                   WHERE thread_id = %(thread)s AND metadata ->> 'run_id' = %(run)s""",
                ids,
            )
            await cur.execute(  # blobs no remaining checkpoint refers to
                """DELETE FROM checkpoint_blobs b WHERE b.thread_id = %(thread)s
                   AND NOT EXISTS (SELECT 1 FROM checkpoints c
                       WHERE c.thread_id = b.thread_id AND c.checkpoint_ns = b.checkpoint_ns
                         AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)""",
                ids,
            )
            await cur.execute(
                """SELECT checkpoint_ns, checkpoint_id, task_id, idx FROM checkpoint_writes
                   WHERE thread_id = %s AND checkpoint_id = ANY(%s)""",
                (thread_id, [cid for _, cid in baseline]),
            )
            rows = [
                (r["checkpoint_ns"], r["checkpoint_id"], r["task_id"], r["idx"])
                for r in await cur.fetchall()
            ]
            for ns, cid, task_id, idx in _extra_writes(baseline, rows):
                await cur.execute(
                    """DELETE FROM checkpoint_writes WHERE thread_id = %s AND checkpoint_ns = %s
                       AND checkpoint_id = %s AND task_id = %s AND idx = %s""",
                    (thread_id, ns, cid, task_id, idx),
                )


class HeadwaterSqliteSaver(AsyncSqliteSaver, ThreadSaver):
    """``AsyncSqliteSaver`` with copy, prune and rollback (checkpoints hold their values)."""

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        async with self.lock, self.conn.cursor() as cur:
            await cur.execute(
                """INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id,
                       parent_checkpoint_id, type, checkpoint, metadata)
                   SELECT ?, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint,
                       CASE WHEN json_extract(CAST(metadata AS TEXT), '$.thread_id') IS NULL
                            THEN metadata
                            ELSE CAST(json_set(CAST(metadata AS TEXT), '$.thread_id', ?) AS BLOB)
                       END
                   FROM checkpoints WHERE thread_id = ?""",
                (target_thread_id, target_thread_id, source_thread_id),
            )
            await cur.execute(
                """INSERT INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id,
                       task_path, idx, channel, type, value)
                   SELECT ?, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type,
                       value
                   FROM writes WHERE thread_id = ?""",
                (target_thread_id, source_thread_id),
            )
            await self.conn.commit()

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        if isinstance(thread_ids, str):
            raise TypeError("thread_ids must be a sequence of thread IDs, not a str")
        if strategy not in ("delete", "keep_latest"):
            raise ValueError(f"Unknown prune strategy: {strategy!r}")
        async with self.lock, self.conn.cursor() as cur:
            for thread_id in thread_ids:
                if strategy == "delete":
                    await cur.execute("DELETE FROM checkpoints WHERE thread_id = ?", (thread_id,))
                    await cur.execute("DELETE FROM writes WHERE thread_id = ?", (thread_id,))
                    continue
                newest = """SELECT checkpoint_ns, MAX(checkpoint_id) FROM checkpoints
                            WHERE thread_id = ? GROUP BY checkpoint_ns"""
                await cur.execute(
                    f"""DELETE FROM checkpoints WHERE thread_id = ?
                        AND (checkpoint_ns, checkpoint_id) NOT IN ({newest})""",
                    (thread_id, thread_id),
                )
                await cur.execute(
                    f"""DELETE FROM writes WHERE thread_id = ?
                        AND (checkpoint_ns, checkpoint_id) NOT IN ({newest})""",
                    (thread_id, thread_id),
                )
            await self.conn.commit()

    async def baseline(self, thread_id: str, start_checkpoint_id: str | None = None) -> Baseline:
        async with self.lock, self.conn.cursor() as cur:
            await cur.execute(
                """SELECT checkpoint_ns, MAX(checkpoint_id) FROM checkpoints
                   WHERE thread_id = ? GROUP BY checkpoint_ns""",
                (thread_id,),
            )
            heads = {(str(ns), str(cid)) for ns, cid in await cur.fetchall()}
            if start_checkpoint_id:
                heads.add(("", start_checkpoint_id))
            baseline: Baseline = {head: set() for head in heads}
            ids = [cid for _, cid in heads]
            await cur.execute(
                f"""SELECT checkpoint_ns, checkpoint_id, task_id, idx FROM writes
                    WHERE thread_id = ? AND checkpoint_id IN ({_marks(len(ids))})""",
                (thread_id, *ids),
            )
            for ns, cid, task_id, idx in await cur.fetchall():
                if (ns, cid) in baseline:
                    baseline[(ns, cid)].add((task_id, int(idx)))
        return baseline

    async def arollback(self, thread_id: str, run_id: str, baseline: Baseline) -> None:
        owned = """SELECT checkpoint_ns, checkpoint_id FROM checkpoints WHERE thread_id = ?
                   AND json_extract(CAST(metadata AS TEXT), '$.run_id') = ?"""
        async with self.lock, self.conn.cursor() as cur:
            await cur.execute(
                f"""DELETE FROM writes WHERE thread_id = ?
                    AND (checkpoint_ns, checkpoint_id) IN ({owned})""",
                (thread_id, thread_id, run_id),
            )
            await cur.execute(
                """DELETE FROM checkpoints WHERE thread_id = ?
                   AND json_extract(CAST(metadata AS TEXT), '$.run_id') = ?""",
                (thread_id, run_id),
            )
            ids = [cid for _, cid in baseline]
            await cur.execute(
                f"""SELECT checkpoint_ns, checkpoint_id, task_id, idx FROM writes
                    WHERE thread_id = ? AND checkpoint_id IN ({_marks(len(ids))})""",
                (thread_id, *ids),
            )
            for ns, cid, task_id, idx in _extra_writes(baseline, list(await cur.fetchall())):
                await cur.execute(
                    """DELETE FROM writes WHERE thread_id = ? AND checkpoint_ns = ?
                       AND checkpoint_id = ? AND task_id = ? AND idx = ?""",
                    (thread_id, ns, cid, task_id, idx),
                )
            await self.conn.commit()

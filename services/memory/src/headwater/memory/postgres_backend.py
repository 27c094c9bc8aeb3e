"""The store on PostgreSQL (cluster): the official ``AsyncPostgresStore`` plus ranking in SQL.

Full text: a GIN expression index on ``jsonb_to_tsvector('english', value, '["string"]')`` of the
official ``store`` table (no copy of the text), an OR ``to_tsquery`` of the query's words and
``ts_rank_cd``. Meaning: pgvector is not assumed (the official store's vector index needs it), so
vectors are embedded when items are written, kept unit-length in ``headwater_store_vectors``
(``real[]``, see vectors.py) and scored in SQL by a dot product with the one query embedding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from langgraph.store.base import GetOp, ListNamespacesOp, PutOp, Result, SearchItem, SearchOp
from langgraph.store.postgres.aio import AsyncPostgresStore
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from headwater.memory.embeddings import HttpEmbedder, unit
from headwater.memory.filters import filter_sql
from headwater.memory.fulltext import query_terms, tsquery_text
from headwater.memory.vectors import embed_puts, latest_puts

DOCUMENT = "jsonb_to_tsvector('english', s.value, '[\"string\"]')"
SETUP = [
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS headwater_store_text_idx ON store"
    " USING gin (jsonb_to_tsvector('english', value, '[\"string\"]'))",
    """CREATE TABLE IF NOT EXISTS headwater_store_vectors (
        prefix text NOT NULL,
        key text NOT NULL,
        field_name text NOT NULL,
        embedding real[] NOT NULL,
        PRIMARY KEY (prefix, key, field_name),
        FOREIGN KEY (prefix, key) REFERENCES store (prefix, key) ON DELETE CASCADE
    )""",
    "CREATE INDEX IF NOT EXISTS headwater_store_vectors_prefix_idx"
    " ON headwater_store_vectors (prefix text_pattern_ops)",
]
NOT_EXPIRED = "(s.expires_at IS NULL OR s.expires_at > NOW())"
REFRESH = """
UPDATE store s SET expires_at = NOW() + (s.ttl_minutes || ' minutes')::interval
FROM unnest(%s::text[], %s::text[]) AS r(prefix, key)
WHERE s.prefix = r.prefix AND s.key = r.key AND s.ttl_minutes IS NOT NULL
"""


def prefix_condition(prefix: tuple[str, ...], column: str) -> tuple[str, list[Any]]:
    """The namespace and everything under it (an anchored LIKE the prefix index serves)."""
    if not prefix:
        return "TRUE", []
    path = ".".join(prefix)
    escaped = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return rf"({column} = %s OR {column} LIKE %s ESCAPE '\')", [path, f"{escaped}.%"]


class PostgresBackend:
    """A connection pool shared with the official store."""

    def __init__(
        self,
        store: AsyncPostgresStore,
        pool: AsyncConnectionPool[Any],
        embedder: HttpEmbedder | None,
        fields: Sequence[str],
    ) -> None:
        self.store = store
        self.pool = pool
        self.embedder = embedder
        self.fields = list(fields)

    async def setup(self) -> None:
        """The official tables, then the text index and the vector table (idempotent)."""
        await self.store.setup()
        async with self.pool.connection() as conn:
            for statement in SETUP:
                await conn.execute(statement)

    async def check(self) -> None:
        """Fail at start-up, not on the first put, when ``headwater migrate`` has not run."""
        async with self.pool.connection() as conn:
            found = await conn.execute("SELECT to_regclass('headwater_store_vectors') AS t")
            row = await found.fetchone()
        if row is None or row["t"] is None:
            raise RuntimeError(
                "the store's tables are missing or outdated: run `headwater migrate` first"
            )

    def ttl_minutes(self, ttl: float) -> float:
        """The official table keeps whole minutes for refreshes: round up, never to zero."""
        return float(math.ceil(ttl))

    async def read(self, ops: Sequence[GetOp | ListNamespacesOp]) -> list[Result]:
        """Gets and namespace listings (the official store omits expired items)."""
        return await self.store.abatch(ops)

    async def write(self, ops: Sequence[PutOp]) -> None:
        """Embed first (a failure writes nothing), then the items, then their vectors."""
        vectors = await embed_puts(self.embedder, ops, self.fields) if self.embedder else {}
        await self.store.abatch(ops)
        kept = [(item, op) for item, op in latest_puts(ops).items() if op.value is not None]
        if not kept:
            return
        if self.embedder is None:  # vectors of an earlier semantic configuration are stale now
            prefixes = [".".join(namespace) for (namespace, _), _ in kept]
            async with self.pool.connection() as conn:
                await conn.execute(
                    "DELETE FROM headwater_store_vectors v USING unnest(%s::text[], %s::text[])"
                    " AS t(prefix, key) WHERE v.prefix = t.prefix AND v.key = t.key",
                    (prefixes, [key for (_, key), _ in kept]),
                )
            return
        async with self.pool.connection() as conn, conn.transaction():
            for (namespace, key), op in kept:
                prefix = ".".join(namespace)
                # Only while the row still holds what was embedded (locked): a concurrent put
                # of the same key writes its own vectors.
                found = await conn.execute(
                    "SELECT 1 FROM store WHERE prefix = %s AND key = %s AND value = %s FOR UPDATE",
                    (prefix, key, Jsonb(dict(op.value or {}))),
                )
                if await found.fetchone() is None:
                    continue
                await conn.execute(
                    "DELETE FROM headwater_store_vectors WHERE prefix = %s AND key = %s",
                    (prefix, key),
                )
                rows = [(prefix, key, name, v) for name, v in vectors.get((namespace, key), [])]
                if rows:
                    async with conn.cursor() as cursor:
                        await cursor.executemany(
                            "INSERT INTO headwater_store_vectors"
                            " (prefix, key, field_name, embedding) VALUES (%s, %s, %s, %s)",
                            rows,
                        )

    async def search(self, op: SearchOp) -> list[SearchItem]:
        """One page of items under the prefix, best first (see the module docstring)."""
        head, join, score, order, head_params = "", "", "NULL", "", []
        if op.query:
            score = "0.0"
            if self.embedder is not None:
                vector = unit((await self.embedder.embed([op.query]))[0])
                scope, scope_params = prefix_condition(op.namespace_prefix, "v.prefix")
                head = (
                    "WITH ranked AS (SELECT v.prefix, v.key, MAX((SELECT sum(a * b)"
                    " FROM unnest(v.embedding, %s::real[]) AS t(a, b))) AS score"
                    f" FROM headwater_store_vectors v WHERE {scope} GROUP BY v.prefix, v.key) "
                )
                head_params = [vector, *scope_params]
                join, score = (
                    "LEFT JOIN ranked r ON r.prefix = s.prefix AND r.key = s.key",
                    "r.score",
                )
                order = "r.score DESC NULLS LAST, "
            elif terms := query_terms(op.query):
                scope, scope_params = prefix_condition(op.namespace_prefix, "s.prefix")
                head = (
                    f"WITH ranked AS (SELECT s.prefix, s.key, ts_rank_cd({DOCUMENT},"
                    f" to_tsquery('english', %s), 1) AS score FROM store s"
                    f" WHERE {DOCUMENT} @@ to_tsquery('english', %s) AND {scope}) "
                )
                text = tsquery_text(terms)
                head_params = [text, text, *scope_params]
                join = "LEFT JOIN ranked r ON r.prefix = s.prefix AND r.key = s.key"
                score, order = "COALESCE(r.score, 0.0)", "r.score DESC NULLS LAST, "
        scope, params = prefix_condition(op.namespace_prefix, "s.prefix")
        clauses, filter_params = filter_sql(op.filter, self.store._get_filter_condition)
        where = " AND ".join([scope, *clauses, NOT_EXPIRED])
        sql = (
            f"{head}SELECT s.prefix, s.key, s.value, s.created_at, s.updated_at,"
            f" {score}::float8 AS score FROM store s {join} WHERE {where}"
            f" ORDER BY {order}s.updated_at DESC, s.prefix, s.key LIMIT %s OFFSET %s"
        )
        async with self.pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(
                sql, [*head_params, *params, *filter_params, op.limit, op.offset]
            )
            rows = await cursor.fetchall()
            if op.refresh_ttl and rows:
                await conn.execute(REFRESH, ([r["prefix"] for r in rows], [r["key"] for r in rows]))
        return [
            SearchItem(
                namespace=tuple(row["prefix"].split(".")),
                key=row["key"],
                value=row["value"],
                created_at=row["created_at"],
                updated_at=row["updated_at"],
                score=row["score"],
            )
            for row in rows
        ]

    async def start_sweeper(self, minutes: float) -> None:
        """The official store's TTL sweeper task."""
        await self.store.start_ttl_sweeper(minutes)  # type: ignore[arg-type]

    async def stop_sweeper(self) -> None:
        """Stop the sweeper (waits for a sweep in progress)."""
        await self.store.stop_ttl_sweeper(timeout=5)

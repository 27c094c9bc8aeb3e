"""The store on PostgreSQL (cluster): the official ``AsyncPostgresStore`` plus ranking in SQL.

Full text: a GIN expression index on ``jsonb_to_tsvector('english', value, '["string"]')`` of the
official ``store`` table (no copy of the text), an OR ``to_tsquery`` of the query's words and
``ts_rank_cd``. Meaning: the official store's pgvector index (``index={"dims", "embed",
"fields"}``, cosine distance, HNSW): it embeds what a put indexes into ``store_vectors``; a
search embeds the query once and takes the nearest vectors through the HNSW index (an
iterative index scan where pgvector has it, so a namespace filter still fills the page), then
ranks items by their best field; items without vectors come after them, read only when a page
reaches past the nearest items.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from langgraph.store.base import GetOp, ListNamespacesOp, PutOp, Result, SearchItem, SearchOp
from langgraph.store.postgres.aio import AsyncPostgresStore
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from headwater.memory.embeddings import HttpEmbedder
from headwater.memory.filters import filter_sql
from headwater.memory.fulltext import query_terms, tsquery_text
from headwater.memory.vectors import latest_puts, texts_to_embed

DOCUMENT = "jsonb_to_tsvector('english', s.value, '[\"string\"]')"
SETUP = [
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS headwater_store_text_idx ON store"
    " USING gin (jsonb_to_tsvector('english', value, '[\"string\"]'))",
    # The vector table kept by hand before pgvector (real[], scanned): store_vectors replaces it.
    "DROP TABLE IF EXISTS headwater_store_vectors",
]
MAX_EF_SEARCH = 1000  # pgvector's upper bound for hnsw.ef_search
MIN_NEAREST = 200  # nearest vectors a query ranks at least (HNSW's candidate list, ef_search)
NO_PGVECTOR = (
    "semantic search (store.index or HEADWATER_EMBEDDINGS_BASE_URL) on PostgreSQL needs the"
    " pgvector extension, which this server does not have: install it (Debian:"
    " postgresql-NN-pgvector; image: pgvector/pgvector) or use `headwater up`'s PostgreSQL"
)
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
        self.has_vectors = False  # store_vectors exists (now or from an earlier configuration)
        self.iterative_scan = False  # pgvector >= 0.8

    async def setup(self) -> None:
        """The official tables (and its vector table and HNSW index), then the text index."""
        if self.embedder is not None and not await self._pgvector_available():
            raise RuntimeError(NO_PGVECTOR)
        await self.store.setup()
        async with self.pool.connection() as conn:
            for statement in SETUP:
                await conn.execute(statement)
        await self._inspect()

    async def check(self) -> None:
        """Fail at start-up, not on the first put, when ``headwater migrate`` has not run."""
        async with self.pool.connection() as conn:
            found = await conn.execute(
                "SELECT to_regclass('headwater_store_text_idx') AS text,"
                " to_regclass('store_vectors') AS vectors"
            )
            row = await found.fetchone()
        if row is None or row["text"] is None or (self.embedder and row["vectors"] is None):
            raise RuntimeError(
                "the store's tables are missing or outdated: run `headwater migrate` first"
            )
        await self._inspect()

    async def _pgvector_available(self) -> bool:
        async with self.pool.connection() as conn:
            found = await conn.execute(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"
            )
            return await found.fetchone() is not None

    async def _inspect(self) -> None:
        async with self.pool.connection() as conn:
            found = await conn.execute(
                "SELECT to_regclass('store_vectors') IS NOT NULL AS vectors,"
                " (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS version"
            )
            row = await found.fetchone()
        assert row is not None
        self.has_vectors = bool(row["vectors"])
        version = tuple(int(p) for p in (row["version"] or "0").split(".")[:2] if p.isdigit())
        self.iterative_scan = version >= (0, 8)

    def ttl_minutes(self, ttl: float) -> float:
        """The official table keeps whole minutes for refreshes: round up, never to zero."""
        return float(math.ceil(ttl))

    async def read(self, ops: Sequence[GetOp | ListNamespacesOp]) -> list[Result]:
        """Gets and namespace listings (the official store omits expired items)."""
        return await self.store.abatch(ops)

    async def write(self, ops: Sequence[PutOp]) -> None:
        """The official store embeds (a failure writes nothing) and writes items and vectors;
        then vectors of fields the new value no longer indexes go."""
        latest = latest_puts(ops)
        indexed = {
            item: [name for name, _ in texts_to_embed(op, self.fields)] if self.embedder else []
            for item, op in latest.items()
            if op.value is not None
        }  # also checks the index paths before anything is written (400, not 500)
        await self.store.abatch(ops)
        if not indexed or not self.has_vectors:
            return
        async with self.pool.connection() as conn:
            await conn.execute(
                "DELETE FROM store_vectors v USING unnest(%s::text[], %s::text[], %s::jsonb[])"
                " AS t(prefix, key, names) WHERE v.prefix = t.prefix AND v.key = t.key"
                " AND NOT (t.names ? v.field_name)",
                (
                    [".".join(namespace) for namespace, _ in indexed],
                    [key for _, key in indexed],
                    [Jsonb(names) for names in indexed.values()],
                ),
            )

    async def search(self, op: SearchOp) -> list[SearchItem]:
        """One page of items under the prefix, best first (see the module docstring)."""
        if op.query and self.embedder is not None:
            vector = (await self.embedder.embed([op.query]))[0]
            async with self.pool.connection() as conn, conn.transaction():
                rows = await self._nearest_page(conn, op, vector)
                await self._refresh(conn, op, rows)
            return [search_item(row) for row in rows]
        head, join, score, order, head_params = "", "", "NULL", "", []
        if op.query:
            score = "0.0"
            if terms := query_terms(op.query):
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
        where, params = self._where(op)
        sql = (
            f"{head}SELECT s.prefix, s.key, s.value, s.created_at, s.updated_at,"
            f" {score}::float8 AS score FROM store s {join} WHERE {where}"
            f" ORDER BY {order}s.updated_at DESC, s.prefix, s.key LIMIT %s OFFSET %s"
        )
        async with self.pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(sql, [*head_params, *params, op.limit, op.offset])
            rows = await cursor.fetchall()
            await self._refresh(conn, op, rows)
        return [search_item(row) for row in rows]

    def _where(self, op: SearchOp) -> tuple[str, list[Any]]:
        """Items of ``store s`` under the prefix, matching the filter, not expired."""
        scope, params = prefix_condition(op.namespace_prefix, "s.prefix")
        clauses, filter_params = filter_sql(op.filter, self.store._get_filter_condition)
        return " AND ".join([scope, *clauses, NOT_EXPIRED]), [*params, *filter_params]

    async def _nearest_page(
        self, conn: AsyncConnection[Any], op: SearchOp, vector: list[float]
    ) -> list[dict[str, Any]]:
        """The page from the items nearest to ``vector`` (HNSW), then, once those run out, the
        items without a (near enough) vector, newest first. A page inside the nearest items
        never reads the rest of the namespace."""
        # Enough nearest vectors for this page even when items have several fields, and never
        # few: pages of one query then rank the same candidates.
        nearest = max(MIN_NEAREST, (op.offset + op.limit) * max(1, len(self.fields)) * 2)
        await conn.execute(
            "SELECT set_config('hnsw.ef_search', %s, true)", (str(min(MAX_EF_SEARCH, nearest)),)
        )
        if self.iterative_scan:  # a narrow prefix among many vectors still fills the page
            await conn.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
        vector_scope, vector_params = prefix_condition(op.namespace_prefix, "v.prefix")
        where, params = self._where(op)
        wanted = op.offset + op.limit
        cursor = await conn.execute(
            "WITH nearest AS (SELECT v.prefix, v.key, v.embedding <=> %s::vector AS d"
            f" FROM store_vectors v WHERE {vector_scope} ORDER BY d LIMIT %s),"
            " ranked AS (SELECT prefix, key, 1 - MIN(d) AS score FROM nearest"
            " GROUP BY prefix, key)"
            " SELECT s.prefix, s.key, s.value, s.created_at, s.updated_at,"
            " r.score::float8 AS score FROM ranked r"
            f" JOIN store s ON s.prefix = r.prefix AND s.key = r.key WHERE {where}"
            " ORDER BY r.score DESC, s.updated_at DESC, s.prefix, s.key LIMIT %s",
            [vector, *vector_params, nearest, *params, wanted],
        )
        hits = await cursor.fetchall()
        page = hits[op.offset :]
        if len(hits) < wanted:
            cursor = await conn.execute(
                "SELECT s.prefix, s.key, s.value, s.created_at, s.updated_at, NULL::float8 AS"
                f" score FROM store s WHERE {where} AND (s.prefix, s.key) NOT IN"
                " (SELECT * FROM unnest(%s::text[], %s::text[]))"
                " ORDER BY s.updated_at DESC, s.prefix, s.key LIMIT %s OFFSET %s",
                [
                    *params,
                    [h["prefix"] for h in hits],
                    [h["key"] for h in hits],
                    op.limit - len(page),
                    max(0, op.offset - len(hits)),
                ],
            )
            page += await cursor.fetchall()
        return page

    async def _refresh(
        self, conn: AsyncConnection[Any], op: SearchOp, rows: list[dict[str, Any]]
    ) -> None:
        """Push back the expiry of the items a search returned, when asked to."""
        if op.refresh_ttl and rows:
            await conn.execute(REFRESH, ([r["prefix"] for r in rows], [r["key"] for r in rows]))

    async def start_sweeper(self, minutes: float) -> None:
        """The official store's TTL sweeper task."""
        await self.store.start_ttl_sweeper(minutes)  # type: ignore[arg-type]

    async def stop_sweeper(self) -> None:
        """Stop the sweeper (waits for a sweep in progress)."""
        await self.store.stop_ttl_sweeper(timeout=5)


def search_item(row: dict[str, Any]) -> SearchItem:
    """A result row as the official store's item."""
    return SearchItem(
        namespace=tuple(row["prefix"].split(".")),
        key=row["key"],
        value=row["value"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        score=row["score"],
    )

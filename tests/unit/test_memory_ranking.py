"""Full-text queries and the SQLite FTS index kept in step with the official store's table.

The rankers themselves (FTS5 ``bm25`` and PostgreSQL ``ts_rank_cd`` on a fixed corpus, and
meaning) are tested on both databases in tests/integration/test_memory_store.py.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite
import httpx
import pytest
from langgraph.store.sqlite.aio import AsyncSqliteStore

from headwater.common.settings import load_settings
from headwater.memory.app import create_app
from headwater.memory.extraction import parse_facts
from headwater.memory.fulltext import fts5_match, query_terms, tsquery_text
from headwater.memory.options import StoreOptions

pytestmark = pytest.mark.unit
OWNER = {"x-headwater-owner": "alice"}


def test_query_terms_drop_stop_words_and_punctuation() -> None:
    assert query_terms("What is MY favourite colour?") == ["favourite", "colour"]
    assert query_terms("tea, tea & coffee") == ["tea", "coffee"]
    assert query_terms("the of a") == []
    assert query_terms("naïve café 42") == ["naïve", "café", "42"]
    assert query_terms('"); DROP TABLE store; --') == ["drop", "table", "store"]


def test_engine_queries_are_an_or_of_quoted_words() -> None:
    assert fts5_match(["tea", "near"]) == '"tea" OR "near"', "NEAR is a word, not an operator"
    assert tsquery_text(["tea", "coffee"]) == "tea | coffee"


def test_parse_facts() -> None:
    assert parse_facts('Sure: ["a", " b "]') == ["a", "b"]
    assert parse_facts("- a\n* b\n\n") == ["a", "b"]


async def test_the_fts_index_follows_puts_replaces_and_deletes(tmp_path: Path) -> None:
    store_file = tmp_path / "hw-store.sqlite"
    async with aiosqlite.connect(store_file, isolation_level=None) as conn:
        official = AsyncSqliteStore(conn)  # written before Headwater's index existed
        await official.setup()
        await official.aput(("owner:alice", "n"), "before", {"text": "a legacy item"})
        official._task.cancel()  # type: ignore[union-attr]
    settings = load_settings(
        {"HEADWATER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/hw.sqlite"}
    )
    assert settings.store_dsn == str(store_file)
    app = create_app(settings, setup=True, options=StoreOptions())
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as http,
    ):

        async def scores(query: str) -> dict[str, float]:
            body = {"namespace_prefix": ["n"], "query": query}
            found = await http.post("/store/items/search", json=body, headers=OWNER)
            return {i["key"]: i["score"] for i in found.json()["items"]}

        assert (await scores("legacy"))["before"] > 0, "setup indexes existing items"
        item = {"namespace": ["n"], "key": "k", "value": {"text": "apples", "tags": ["pears"]}}
        await http.put("/store/items", json=item, headers=OWNER)
        assert (await scores("pears"))["k"] > 0, "strings nested in lists are indexed"
        item["value"] = {"text": "oranges"}
        await http.put("/store/items", json=item, headers=OWNER)
        assert (await scores("apples"))["k"] == 0.0 and (await scores("oranges"))["k"] > 0
        await http.request(
            "DELETE", "/store/items", json={"namespace": ["n"], "key": "k"}, headers=OWNER
        )
    with sqlite3.connect(store_file) as db:
        indexed = db.execute("SELECT count(*) FROM headwater_store_fts").fetchone()[0]
        stored = db.execute("SELECT count(*) FROM store").fetchone()[0]
    assert indexed == stored == 1, "one index row per item: replaced and deleted rows are gone"

"""Metadata containment filters on PostgreSQL (JSONB @>) and SQLite (json_extract)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.common.db import repository
from headwater.common.db.engine import make_engine, make_sessionmaker
from headwater.common.db.migrate import upgrade
from headwater.common.ids import uuid7
from tests.services import create_database, drop_database

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
ROWS = [
    {"k": "plain", "n": 1},
    {"k": {"a": 1}, "flag": True},
    {"k": [1, 2], "flag": False},
    {"k": None},
]


@pytest.fixture(params=["sqlite", "postgres"])
async def sessions(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = (
        f"sqlite+aiosqlite:///{tmp_path}/hw.sqlite"
        if request.param == "sqlite"
        else await asyncio.to_thread(create_database)
    )
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    made = make_sessionmaker(engine)
    async with made.begin() as session:
        for metadata in ROWS:
            session.add(repository.new_thread(uuid7(), metadata, "owner"))
    yield made
    await engine.dispose()
    if request.param == "postgres":
        await asyncio.to_thread(drop_database, url)


async def matching(sessions: async_sessionmaker[AsyncSession], wanted: dict[str, object]) -> list:
    async with sessions() as session:
        rows, total = await repository.search_threads(
            session,
            ids=None,
            metadata=wanted,
            status=None,
            limit=10,
            offset=0,
            sort_by="created_at",
            sort_order="asc",
            owner="owner",
        )
    assert total == len(rows)
    return [r.metadata_ for r in rows]


async def test_each_kind_of_value_matches_only_its_rows(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    assert await matching(sessions, {"k": "plain"}) == [ROWS[0]]
    assert await matching(sessions, {"k": {"a": 1}}) == [ROWS[1]]
    assert await matching(sessions, {"k": [1, 2]}) == [ROWS[2]]
    assert await matching(sessions, {"k": None}) == [ROWS[3]]
    assert await matching(sessions, {"flag": True}) == [ROWS[1]]
    assert await matching(sessions, {"flag": False}) == [ROWS[2]]
    assert await matching(sessions, {"n": 1, "k": "plain"}) == [ROWS[0]]
    assert await matching(sessions, {"k": {"b": 2}}) == []
    assert await matching(sessions, {"missing": {"x": 1}}) == []
    assert await matching(sessions, {"k-with-dash": []}) == []

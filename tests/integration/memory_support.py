"""Helpers for the memory-service tests: the app on either database, a recording embeddings
endpoint (the simulator's), and direct access to the rows (to make time pass for TTLs)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvicorn

from headwater.common.settings import Settings, load_settings
from headwater.memory.app import create_app
from headwater.memory.options import StoreOptions
from headwater.memory.store import owner_label
from headwater.simllm.app import create_app as create_simulator
from headwater.simllm.config import SimConfig

UTC = dt.UTC


@dataclass
class Embeddings:
    """The simulator's ``/v1/embeddings`` on a real port, recording every request's inputs."""

    url: str = ""
    calls: list[list[str]] = field(default_factory=list)


@contextlib.asynccontextmanager
async def recording_embeddings() -> AsyncIterator[Embeddings]:
    """Serve the simulator behind a recorder until the block ends."""
    recorder = Embeddings()
    simulator = create_simulator(SimConfig())

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/embeddings":
            await simulator(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def recording_receive() -> Any:
            message = await receive()
            chunks.append(message.get("body", b""))
            return message

        await simulator(scope, recording_receive, send)
        recorder.calls.append(json.loads(b"".join(chunks))["input"])

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the embeddings simulator did not start"
        await asyncio.sleep(0.01)
    recorder.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/v1"
    try:
        yield recorder
    finally:
        server.should_exit = True
        await task


def memory_settings(dialect: str, tmp_path: Path, pg_url: str, **env: str) -> Settings:
    """Settings of a memory service on SQLite (a fresh file) or the session's PostgreSQL."""
    database = pg_url if dialect == "postgres" else f"sqlite+aiosqlite:///{tmp_path}/hw.sqlite"
    return load_settings(
        {"HEADWATER_DATABASE_URL": database, "HEADWATER_CONFIG": str(tmp_path / "none.json"), **env}
    )


@contextlib.asynccontextmanager
async def memory_client(
    settings: Settings, options: StoreOptions
) -> AsyncIterator[httpx.AsyncClient]:
    """The memory app (tables set up) and an HTTP client on the same event loop."""
    app = create_app(settings, setup=True, options=options)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url="http://memory", timeout=30) as http,
    ):
        yield http


class Rows:
    """Direct access to one owner's store rows (SQLite file or PostgreSQL database)."""

    def __init__(self, settings: Settings, owner: str) -> None:
        self.dsn = settings.store_dsn
        self.sqlite = not self.dsn.startswith("postgres")
        self.label = owner_label(owner)

    def _run(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        if self.sqlite:
            with contextlib.closing(sqlite3.connect(self.dsn, timeout=10)) as conn, conn:
                return list(conn.execute(sql, params).fetchall())
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            cursor = conn.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]
            return list(cursor.fetchall()) if cursor.description else []

    def _where(self) -> str:
        return "key = ? AND (prefix = ? OR prefix LIKE ?)"

    def _params(self, key: str) -> tuple[str, str, str]:
        return (key, self.label, self.label + ".%")

    def ttl(self, key: str) -> tuple[dt.datetime | None, float | None] | None:
        """``(expires_at, ttl_minutes)`` of an item, None when there is no row."""
        rows = self._run(
            f"SELECT expires_at, ttl_minutes FROM store WHERE {self._where()}", self._params(key)
        )
        if not rows:
            return None
        expires, minutes = rows[0]
        if isinstance(expires, str):
            expires = dt.datetime.fromisoformat(expires)
        if isinstance(expires, dt.datetime) and expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        return expires, None if minutes is None else float(minutes)

    def set_expiry(self, key: str, when: dt.datetime) -> None:
        """Move an item's expiry (the past: it has expired)."""
        value: Any = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if self.sqlite else when
        self._run(
            f"UPDATE store SET expires_at = ? WHERE {self._where()}", (value, *self._params(key))
        )

    def vectors(self, key: str) -> list[str]:
        """The field names an item has vectors for."""
        table = "headwater_store_vectors" if self.sqlite else "store_vectors"  # pgvector's
        rows = self._run(
            f"SELECT field_name FROM {table} WHERE {self._where()}",
            self._params(key),
        )
        return sorted(r[0] for r in rows)


def now() -> dt.datetime:
    """The current time, UTC."""
    return dt.datetime.now(UTC)

"""Async engines for PostgreSQL (asyncpg) and SQLite (aiosqlite)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from headwater.common.outages import is_disconnect

PING_AFTER_IDLE_S = 1.0
"""A pooled PostgreSQL connection idle for longer is pinged before use."""


def sqlite_path(url: str) -> Path | None:
    """The file behind a ``sqlite+aiosqlite:///path`` URL, or None."""
    if not url.startswith("sqlite") or ":///" not in url:
        return None
    path = url.split(":///", 1)[1]
    return None if path in ("", ":memory:") else Path(path)


def make_engine(
    url: str, *, pool_size: int = 10, max_overflow: int = 20, pool_timeout: float = 30.0
) -> AsyncEngine:
    """Create the engine; for SQLite make the folder, turn on WAL and a busy timeout.

    A PostgreSQL pool keeps ``pool_size`` connections, opens up to ``max_overflow`` more,
    and makes a caller wait ``pool_timeout`` seconds at most (then ``sqlalchemy.exc.TimeoutError``).
    """
    kwargs: dict[str, Any] = {}
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
    else:
        # No pre-ping at every checkout (with asyncpg it is three round trips, the largest
        # fixed cost of a short transaction): a connection idle for a while is pinged instead
        # (below); recycle: no connection outlives an hour.
        kwargs.update(
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            pool_recycle=3600,
        )
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
    else:

        @event.listens_for(engine.sync_engine, "handle_error")
        def _drop_dead_connections(context: ExceptionContext) -> None:
            # asyncpg reports a server shutdown (AdminShutdown) or a reset connection while its
            # socket still looks open, so SQLAlchemy would return the connection to the pool
            # (or fail the pre-ping). Marking it a disconnect discards it; with the pre-ping
            # the next checkout then opens a fresh one.
            original = context.original_exception
            if is_disconnect(original) or isinstance(original, ConnectionError):
                context.is_disconnect = True

        _ping_idle_connections(engine)

    return engine


def _ping_idle_connections(engine: AsyncEngine) -> None:
    """Ping a pooled connection at checkout when it sat idle for ``PING_AFTER_IDLE_S``.

    A connection the server closed while it sat in the pool (restart, failover, idle
    timeout) is replaced at checkout instead of failing the request. Connections in steady
    use skip the round trips; one that dies mid-burst fails its statement as a disconnect,
    which discards every connection older than it (the worker's writes retry, the API
    answers 503 once).
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("checked_in_at")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure: the pool opens a fresh connection
            raise DisconnectionError(f"idle connection failed its ping: {exc!r}") from exc


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)

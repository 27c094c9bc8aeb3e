"""Start-up checks: each failure is one line naming the setting and its value.

While NATS or the database is unreachable a service waits with backoff (logging the URL)
and stops as soon as it is told to; a database without Headwater's tables, a taken port or
a broken langgraph.json ends the process with a message saying what to change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import nats
import nats.errors
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from headwater.cli.ports import check_port_free
from headwater.cli.startup_error import StartupError
from headwater.common.db.engine import make_engine
from headwater.common.db.migrate import alembic_config

__all__ = ["StartupError", "check_port_free", "wait_for_database", "wait_for_nats"]
log = logging.getLogger("headwater")
T = TypeVar("T")
MAX_BACKOFF_S = 10.0


def redact_url(url: str) -> str:
    """``url`` without its password, for logs and messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


async def until_stopped(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """``work``'s result, or None (``work`` cancelled) if ``stop`` is set first."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None


async def _backoff(stop: asyncio.Event, delay: float) -> bool:
    """Sleep ``delay`` unless stopped; True when stopped."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay)
    return stop.is_set()


async def _nats_reachable(url: str) -> str | None:
    """None when a NATS server answers at ``url``, else why not (one attempt, no reconnects)."""
    errors: list[BaseException] = []

    async def remember(exc: Exception) -> None:
        """nats-py reports each failed attempt here; the caller logs the last one."""
        errors.append(exc)

    try:
        nc = await nats.connect(
            url,
            allow_reconnect=False,
            connect_timeout=2,
            max_reconnect_attempts=1,  # 0 would mean "forever" in nats-py's server selection
            reconnect_time_wait=0.1,
            error_cb=remember,
        )
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        cause = errors[-1] if errors else exc
        return str(cause) or type(cause).__name__
    await nc.close()
    return None


async def wait_for_nats(
    url: str, stop: asyncio.Event, report: Callable[[str], None] = lambda _reason: None
) -> bool:
    """Wait until NATS answers at ``url`` (backoff up to 10 s); False when stopped first."""
    if not url.startswith(("nats://", "tls://", "ws://", "wss://")):
        raise StartupError(
            f"HEADWATER_NATS_URL={redact_url(url)!r} is not a NATS URL (expected nats://host:4222)"
        )
    delay = 0.5
    while True:
        reason = await until_stopped(_nats_reachable(url), stop)
        if stop.is_set():
            return False
        if reason is None:
            return True
        report(f"NATS at {redact_url(url)} unreachable: {reason}")
        log.warning(
            "NATS at %s (HEADWATER_NATS_URL) unreachable: %s; retrying in %.1f s",
            redact_url(url),
            reason,
            delay,
        )
        if await _backoff(stop, delay):
            return False
        delay = min(delay * 2, MAX_BACKOFF_S)


def _revisions(connection: Connection, database_url: str) -> tuple[str | None, str | None]:
    current = MigrationContext.configure(connection).get_current_revision()
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    return current, head


async def _migration_state(database_url: str) -> tuple[str | None, str | None]:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_revisions, database_url)
    finally:
        await engine.dispose()


def unreachable_reason(exc: BaseException) -> str:
    """The first line of what the driver said."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def database_label(database_url: str) -> str:
    """The database URL with its password hidden."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return database_url


async def wait_for_database(
    database_url: str,
    stop: asyncio.Event,
    report: Callable[[str], None] = lambda _reason: None,
    *,
    wait_for_migrations: bool = False,
    retry_unreachable: bool = True,
) -> bool:
    """Wait until the database answers; then require Headwater's migrations to be applied.

    Unmigrated: :class:`StartupError` ("run `headwater migrate`"), or, with
    ``wait_for_migrations``, keep waiting. Unreachable: wait, or without
    ``retry_unreachable`` a :class:`StartupError`. False when stopped first.
    """
    label = database_label(database_url)
    try:
        make_url(database_url)
    except ArgumentError as exc:
        raise StartupError(f"HEADWATER_DATABASE_URL={label!r} is not a database URL") from exc
    delay = 0.5
    while True:
        try:
            state = await until_stopped(_migration_state(database_url), stop)
        except (OSError, TimeoutError, DBAPIError) as exc:
            reason = unreachable_reason(exc)
            if not retry_unreachable:
                raise StartupError(
                    f"database at {label} (HEADWATER_DATABASE_URL) is unreachable: {reason}"
                ) from exc
            report(f"database unreachable: {reason}")
            log.warning(
                "database at %s (HEADWATER_DATABASE_URL) unreachable: %s; retrying in %.1f s",
                label,
                reason,
                delay,
            )
        else:
            if state is None:
                return False
            current, head = state
            if current == head:
                return True
            message = (
                f"database at {label} (HEADWATER_DATABASE_URL) is not migrated "
                f"(revision {current or 'none'}, needs {head}): run `headwater migrate`"
            )
            if not wait_for_migrations:
                raise StartupError(message)
            report(f"database not migrated (revision {current or 'none'}, needs {head})")
            log.warning("%s; checking again in %.1f s", message, delay)
        if await _backoff(stop, delay):
            return False
        delay = min(delay * 2, MAX_BACKOFF_S)

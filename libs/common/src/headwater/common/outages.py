"""Outages of the database or the bus: telling them from bugs, and waiting them out.

An outage is an error that says a dependency is unreachable or restarting (connection
refused or reset, the server shutting down, no JetStream responder, a timeout), as opposed
to an error about the request itself (a constraint, bad data). The worker retries writes
that fail with an outage for a bounded time; the API answers them with 503.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import nats.errors
import nats.js.errors
from sqlalchemy import exc as sa_exc
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_delay,
    wait_exponential_jitter,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

DISCONNECT_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "08000", "08003", "08006", "53300"})
"""admin_shutdown, crash_shutdown, cannot_connect_now, the connection exceptions, and
too_many_connections (the server is full: no connection now, maybe one in a moment)."""

_BUS_OUTAGES: tuple[type[BaseException], ...] = (
    nats.errors.NoRespondersError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.ConnectionDrainingError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.StaleConnectionError,
    nats.errors.NoServersError,
    nats.js.errors.ServiceUnavailableError,
    nats.js.errors.NoStreamResponseError,
)
_NETWORK_OUTAGES: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,  # also asyncio's, nats.errors.TimeoutError and the JetStream timeouts
    sa_exc.TimeoutError,  # no pooled connection came free
)
_NETWORK_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EPIPE}
)


def _sqlstate(exc: BaseException) -> str:
    return str(getattr(exc, "sqlstate", "") or getattr(exc, "pgcode", "") or "")


def is_disconnect(exc: BaseException) -> bool:
    """The database connection is gone or the server refuses work (shutting down, starting)."""
    if _sqlstate(exc) in DISCONNECT_SQLSTATES:
        return True
    names = {cls.__name__ for cls in type(exc).__mro__}
    # asyncpg's connection errors, without importing the driver here
    return bool(names & {"PostgresConnectionError", "ConnectionDoesNotExistError"})


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) says the database or the bus is unreachable."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _says_unreachable(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _says_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.DBAPIError):
        return (
            exc.connection_invalidated
            or isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)
            or (exc.orig is not None and is_disconnect(exc.orig))
        )
    if isinstance(exc, _BUS_OUTAGES + _NETWORK_OUTAGES) or is_disconnect(exc):
        return True
    if isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS:
        return True
    # the checkpointer's driver (psycopg) is no dependency of common: match it by name
    return any(
        cls.__name__ == "OperationalError" and cls.__module__.startswith("psycopg")
        for cls in type(exc).__mro__
    )


async def ride_out(
    operation: Callable[[], Awaitable[T]],
    *,
    what: str,
    budget_s: float,
    first_pause_s: float = 0.1,
    max_pause_s: float = 2.0,
) -> T:
    """Await ``operation()``; while it fails with an outage, retry with backoff for up to
    ``budget_s`` seconds, then raise the last error. Other errors are raised at once.

    ``operation`` must be safe to repeat (each try is a new transaction or publish).
    """

    def first_failure(state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        if state.attempt_number == 1 and failure is not None:
            log.warning("%s: %s; retrying for up to %.0f s", what, _short(failure), budget_s)

    async for attempt in AsyncRetrying(
        retry=retry_if_exception(is_outage),
        stop=stop_after_delay(budget_s),
        wait=wait_exponential_jitter(
            multiplier=first_pause_s, max=max_pause_s, jitter=first_pause_s
        ),
        before_sleep=first_failure,
        reraise=True,  # the last error itself, not tenacity's RetryError
    ):
        with attempt:
            result = await operation()
            if attempt.retry_state.attempt_number > 1:
                log.info("%s succeeded after %d tries", what, attempt.retry_state.attempt_number)
            return result
    raise AssertionError("unreachable: tenacity re-raises the last error when it stops")


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:200]}"

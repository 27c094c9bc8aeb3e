"""The single mapping of exceptions to HTTP ``{"detail": …}`` responses (outages are 503s)."""

from __future__ import annotations

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from headwater.api.shared.errors import RETRY_AFTER_S, ApiError
from headwater.common.outages import is_outage

log = logging.getLogger(__name__)


def _detail(exc: ValidationException) -> str:
    extra: Any = exc.extra
    if isinstance(extra, list) and extra:
        first = extra[0]
        if isinstance(first, dict):
            key = first.get("key")
            message = first.get("message", exc.detail)
            return f"{message}" + (f" (at `{key}`)" if key else "")
    return str(exc.detail)


def on_api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[dict[str, str]]:
    """Domain errors → their status (a 503 tells when to retry)."""
    headers = {"Retry-After": str(RETRY_AFTER_S)} if exc.status_code == 503 else None
    return Response(
        {"detail": exc.detail},
        status_code=exc.status_code,
        media_type=MediaType.JSON,
        headers=headers,
    )


def on_validation_error(
    _: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, str]]:
    """Invalid bodies and parameters → 422 as langgraph-api answers."""
    return Response({"detail": _detail(exc)}, status_code=422, media_type=MediaType.JSON)


def on_http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, str]]:
    """Litestar's own HTTP errors (404 route, 405…) in the same shape."""
    return Response(
        {"detail": str(exc.detail)},
        status_code=exc.status_code,
        media_type=MediaType.JSON,
        headers=exc.headers,
    )


def on_outage(_: Request[Any, Any, Any], exc: BaseException) -> Response[dict[str, str]]:
    """The database or NATS is unreachable: 503 with ``Retry-After``, not a 500."""
    log.warning("dependency unavailable: %s", type(exc).__name__)
    return Response(
        {"detail": "A service Headwater depends on is unavailable; retry shortly"},
        status_code=503,
        media_type=MediaType.JSON,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def on_database_error(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[dict[str, str]]:
    """Data the database refuses (SQLSTATE class 22: out of range, bad characters) is the
    request's fault, a 422; an unreachable database a 503; a unique key taken meanwhile is
    a 409; any other database error is ours."""
    if is_outage(exc):
        return on_outage(request, exc)
    sqlstate = str(getattr(exc.orig, "sqlstate", "") or "")
    if isinstance(exc, IntegrityError):
        # Creates check for an existing id first and answer 409 themselves; this is the
        # same answer for a create that lost a race to another one with the same id.
        log.info("a write lost a race on a unique key: %s", sqlstate or type(exc.orig).__name__)
        return Response(
            {"detail": "The resource already exists (created concurrently)"},
            status_code=409,
            media_type=MediaType.JSON,
        )
    if sqlstate.startswith("22"):
        log.warning("the database refused a request's data: %s", sqlstate)
        return Response(
            {"detail": "The request holds a value the database cannot store"},
            status_code=422,
            media_type=MediaType.JSON,
        )
    return on_unexpected(request, exc)


def on_pool_exhausted(_: Request[Any, Any, Any], exc: PoolTimeout) -> Response[dict[str, str]]:
    """Every database connection is busy (overload): 503, try again shortly."""
    log.warning("database pool exhausted: %s", exc)
    return Response(
        {"detail": "The server is busy; try again shortly"},
        status_code=503,
        media_type=MediaType.JSON,
        headers={"Retry-After": "1"},
    )


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, str]]:
    """Anything else is our bug: log it, answer 500 without internals (an outage: 503)."""
    if is_outage(exc):
        return on_outage(request, exc)
    log.exception("unhandled error", exc_info=exc)
    return Response({"detail": "Internal server error"}, status_code=500, media_type=MediaType.JSON)


EXCEPTION_HANDLERS: dict[int | type[Exception], Any] = {
    ApiError: on_api_error,
    ValidationException: on_validation_error,
    HTTPException: on_http_error,
    DBAPIError: on_database_error,
    PoolTimeout: on_pool_exhausted,
    Exception: on_unexpected,
}

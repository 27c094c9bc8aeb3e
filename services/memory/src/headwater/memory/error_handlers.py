"""Every error the memory service answers, mapped to ``{"detail": …}`` in one place."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import psycopg
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException

from headwater.memory.embeddings import EmbeddingsBadAnswer, EmbeddingsUnavailable
from headwater.memory.errors import InvalidRequest

log = logging.getLogger(__name__)


def _answer(detail: str, status: int) -> Response[dict[str, str]]:
    return Response({"detail": detail}, status_code=status, media_type=MediaType.JSON)


def _validation_detail(exc: ValidationException) -> str:
    extra: Any = exc.extra
    if isinstance(extra, list) and extra and isinstance(extra[0], dict):
        first = extra[0]
        key = first.get("key")
        return str(first.get("message", exc.detail)) + (f" (at `{key}`)" if key else "")
    return str(exc.detail)


def on_invalid(_: Request[Any, Any, Any], exc: InvalidRequest) -> Response[dict[str, str]]:
    """Input the store cannot take → 422."""
    return _answer(exc.detail, 422)


def on_validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, str]]:
    """Bodies and parameters of the wrong shape → 422, as langgraph-api answers."""
    return _answer(_validation_detail(exc), 422)


def on_http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, str]]:
    """Litestar's own (404 route, 405, explicit 400/503) in the same shape."""
    return _answer(str(exc.detail), exc.status_code)


def on_bad_data(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, str]]:
    """A value the database refuses (PostgreSQL's data exceptions, class 22; SQLite's
    too-big) → 422. A backstop: the service checks what it knows of first (storable.py).
    Connection and server faults are other classes (``OperationalError``), still 5xx."""
    reason = exc.diag.message_primary if isinstance(exc, psycopg.Error) else None
    log.warning("the database refused a value: %s", exc)
    return _answer(f"the database cannot take a value of this request: {reason or exc}", 422)


def on_embeddings_down(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, str]]:
    """The embeddings endpoint is down → 503 (retry later)."""
    return _answer(str(exc), 503)


def on_embeddings_bad(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, str]]:
    """The embeddings endpoint answered nonsense → 502."""
    return _answer(str(exc), 502)


def on_unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, str]]:
    """Our bug: log it, answer 500 without internals."""
    log.exception("unhandled error", exc_info=exc)
    return _answer("Internal server error", 500)


EXCEPTION_HANDLERS: dict[int | type[Exception], Any] = {
    InvalidRequest: on_invalid,
    ValidationException: on_validation,
    HTTPException: on_http,
    psycopg.DataError: on_bad_data,
    sqlite3.DataError: on_bad_data,
    EmbeddingsUnavailable: on_embeddings_down,
    EmbeddingsBadAnswer: on_embeddings_bad,
    Exception: on_unexpected,
}

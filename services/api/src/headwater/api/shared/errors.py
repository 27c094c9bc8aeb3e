"""Domain errors: plain exceptions that carry the HTTP status a client should see.

Services raise them without importing Litestar; :mod:`headwater.api.system.exception_handlers`
maps them (and every other exception) to ``{"detail": …}`` responses in one place.
"""

from __future__ import annotations


class ApiError(Exception):
    """An error with the HTTP status the client should see."""

    status_code = 400

    def __init__(self, detail: str, status_code: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if status_code is not None:
            self.status_code = status_code


class NotFound(ApiError):
    """404."""

    status_code = 404


class Conflict(ApiError):
    """409."""

    status_code = 409


class Unprocessable(ApiError):
    """422: the request is well-formed JSON but not valid."""

    status_code = 422


class Unavailable(ApiError):
    """503: a dependency (NATS, a worker, the database) did not answer."""

    status_code = 503


RETRY_AFTER_S = 5
"""What a 503 during an outage tells the client to wait before trying again."""

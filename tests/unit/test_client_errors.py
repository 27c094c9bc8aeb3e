"""What of a failed run's exception a client sees (langgraph-api's list of shown types)."""

from __future__ import annotations

import pytest
from langgraph.errors import GraphRecursionError

from headwater.worker.failures import client_error

pytestmark = pytest.mark.unit


class QuotaError(ValueError):
    """A user's own error type, deriving from a shown one."""


class DatabaseDown(Exception):
    """Something whose message may carry internals."""


def test_shown_types_keep_their_message() -> None:
    assert client_error(ValueError("kaboom")) == {"error": "ValueError", "message": "kaboom"}
    assert client_error(QuotaError("over quota"))["message"] == "over quota"
    assert client_error(GraphRecursionError("limit 25"))["message"] == "limit 25"


def test_other_types_hide_their_message() -> None:
    error = client_error(DatabaseDown("postgresql://admin:secret@db/prod refused"))
    assert error == {"error": "DatabaseDown", "message": "An internal error occurred"}

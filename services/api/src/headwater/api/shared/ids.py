"""Path ids checked as langgraph-api checks them."""

from __future__ import annotations

from headwater.api.shared.errors import Unprocessable
from headwater.common.ids import is_uuid


def require_uuid(value: str, what: str) -> str:
    """422 unless ``value`` is a UUID, as langgraph-api validates path ids."""
    if not is_uuid(value):
        raise Unprocessable(f"Invalid {what} ID: must be a UUID")
    return value

"""The credential the API and workers present to the memory service.

The memory service trusts the owner named in ``x-headwater-owner`` only from callers that send
``HEADWATER_SERVICE_TOKEN`` in :data:`SERVICE_TOKEN_HEADER` (docs/security.md).
"""

from __future__ import annotations

SERVICE_TOKEN_HEADER = "x-headwater-service-token"


def service_headers(token: str) -> dict[str, str]:
    """The header carrying ``token`` (none when no token is configured)."""
    return {SERVICE_TOKEN_HEADER: token} if token else {}

"""Applying the custom auth handlers' decisions to threads and runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from headwater.api.auth import CURRENT_USER
from headwater.api.context import ApiContext
from headwater.api.custom_auth import filter_matches
from headwater.api.errors import NotFound


async def authorize(
    ctx: ApiContext, resource: str, action: str, value: dict[str, Any]
) -> dict[str, Any] | None:
    """The handler's filter for this action (None: no handler, or allowed without one)."""
    user = CURRENT_USER.get()
    if ctx.custom_auth is None or user is None:
        return None
    return await ctx.custom_auth.authorize(user, resource, action, value)


async def require_visible(
    ctx: ApiContext,
    resource: str,
    action: str,
    value: dict[str, Any],
    metadata: Mapping[str, Any] | None,
    detail: str,
) -> None:
    """404 when the handler's filter does not match the resource (ids do not leak)."""
    rule = await authorize(ctx, resource, action, value)
    if rule and not filter_matches(rule, metadata or {}):
        raise NotFound(detail)

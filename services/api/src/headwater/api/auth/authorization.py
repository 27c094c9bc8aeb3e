"""Applying the custom auth handlers' decisions to threads, runs, assistants and crons.

Each function takes what carries the handlers (:class:`CarriesAuth`): the injected
:class:`AuthHandlers`, or the ApiContext that run and cron admission still pass.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from headwater.api.auth.custom import CURRENT_USER, CustomAuth, equality_filter, filter_matches
from headwater.api.shared.errors import NotFound
from headwater.common.db.models import AssistantRow

Row = TypeVar("Row")


class CarriesAuth(Protocol):
    """Anything that holds the project's custom auth handlers (None: none configured)."""

    @property
    def custom_auth(self) -> CustomAuth | None: ...


@dataclass(frozen=True, slots=True)
class AuthHandlers:
    """The custom auth handlers as a dependency handlers declare (``auth``)."""

    custom_auth: CustomAuth | None = None


async def authorize(
    auth: CarriesAuth, resource: str, action: str, value: dict[str, Any]
) -> dict[str, Any] | None:
    """The handler's filter for this action (None: no handler, or allowed without one)."""
    user = CURRENT_USER.get()
    if auth.custom_auth is None or user is None:
        return None
    return await auth.custom_auth.authorize(user, resource, action, value)


async def require_visible(
    auth: CarriesAuth,
    resource: str,
    action: str,
    value: dict[str, Any],
    metadata: Mapping[str, Any] | None,
    detail: str,
) -> None:
    """404 when the handler's filter does not match the resource (ids do not leak)."""
    rule = await authorize(auth, resource, action, value)
    if rule and not filter_matches(rule, metadata or {}):
        raise NotFound(detail)


async def search_rule(
    auth: CarriesAuth, resource: str, value: dict[str, Any], metadata: Mapping[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A search's metadata with the ``search`` handler's filter AND-ed in.

    Returns the metadata for the SQL containment query, and the part of the filter SQL cannot
    express (``$or``, ``$contains``, or a key the search itself pins to another value), which
    the caller applies to the rows: None when there is none.
    """
    wanted = dict(metadata or {})
    rule = await authorize(auth, resource, "search", value)
    plain = equality_filter(rule)
    if plain is None or any(k in wanted and wanted[k] != v for k, v in plain.items()):
        return wanted, rule or None
    return {**wanted, **plain}, None


def only_matching(
    rows: Sequence[Row], rule: Mapping[str, Any], metadata_of: Callable[[Row], Any]
) -> list[Row]:
    """The rows whose metadata (``metadata_of(row)``) the filter matches."""
    return [row for row in rows if filter_matches(rule, metadata_of(row) or {})]


UNPAGED = 2**31 - 1
Search = Callable[[dict[str, Any], int, int], Awaitable[tuple[Sequence[Row], int]]]
"""Runs a search: (metadata to contain, limit, offset) → one page and the total."""


async def authorized_page(
    auth: CarriesAuth,
    resource: str,
    value: dict[str, Any],
    metadata: Mapping[str, Any] | None,
    search: Search[Row],
    *,
    limit: int,
    offset: int,
    metadata_of: Callable[[Row], Any],
) -> tuple[Sequence[Row], int]:
    """One page of a search with the ``<resource>.search`` handler's filter applied, and the
    total: in SQL when it can be, else to every match before paging (totals stay right)."""
    wanted, residual = await search_rule(auth, resource, value, metadata)
    if residual is None:
        return await search(wanted, limit, offset)
    rows, _ = await search(wanted, UNPAGED, 0)
    kept = only_matching(rows, residual, metadata_of)
    return kept[offset : offset + limit], len(kept)


def is_system_assistant(assistant: AssistantRow) -> bool:
    """A graph's default assistant, registered by the server (no owner, ``created_by: system``)."""
    return assistant.owner == "" and (assistant.metadata_ or {}).get("created_by") == "system"


async def authorize_assistant_for_run(auth: CarriesAuth, assistant: AssistantRow) -> None:
    """Creating a run invokes the ``assistants.read`` handler for non-system assistants.

    404 (``Thread or assistant not found.``, as run admission answers) when the handler's
    filter does not match the assistant's metadata; 403 when the handler refuses.
    """
    if is_system_assistant(assistant):
        return
    await require_visible(
        auth,
        "assistants",
        "read",
        {"assistant_id": assistant.assistant_id, "metadata": dict(assistant.metadata_ or {})},
        assistant.metadata_,
        "Thread or assistant not found.",
    )

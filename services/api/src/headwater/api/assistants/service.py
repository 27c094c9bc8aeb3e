"""Assistants: system assistants per graph, finding the caller's assistant past the auth
handlers, search, versions and delete. No Litestar here (an import-linter contract)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.api.assistants.schemas import (
    AssistantCreate,
    AssistantPatch,
    AssistantSearch,
    SetLatest,
    VersionsSearch,
)
from headwater.api.assistants.versions import create_assistant, patch_assistant, set_latest
from headwater.api.auth.authorization import (
    CarriesAuth,
    authorize,
    authorized_page,
    require_visible,
)
from headwater.api.auth.custom import Forbidden
from headwater.api.runs.run_shape import resolve_assistant
from headwater.api.shared.context import Sessions
from headwater.api.shared.errors import NotFound
from headwater.api.shared.ids import require_uuid
from headwater.common.db import crons, repository
from headwater.common.db.models import AssistantRow, AssistantVersionRow
from headwater.common.ids import assistant_id_for_graph


async def register_system_assistants(session: AsyncSession, graph_ids: list[str]) -> None:
    """One default assistant per graph, with langgraph-api's deterministic ids."""
    for graph_id in graph_ids:
        await repository.ensure_system_assistant(
            session, assistant_id_for_graph(graph_id), graph_id, graph_id
        )


def _not_found(assistant_id: str) -> NotFound:
    return NotFound(f"Assistant {assistant_id} not found")


async def owned_assistant(
    auth: CarriesAuth,
    session: AsyncSession,
    assistant_id: str,
    owner: str,
    action: str = "read",
    value: dict[str, Any] | None = None,
) -> AssistantRow:
    """The caller's (or a system) assistant after the ``assistants.<action>`` handler; else 404."""
    require_uuid(assistant_id, "assistant")
    row = await session.get(AssistantRow, assistant_id)
    if row is None or row.owner not in ("", owner):
        raise _not_found(assistant_id)
    if action != "read" and row.owner != owner:
        # A graph's system assistant is everyone's: no one user may change or remove it.
        raise Forbidden("System assistants are shared and read-only; create your own assistant")
    await _check(auth, row, action, value)
    return row


async def _check(
    auth: CarriesAuth, row: AssistantRow, action: str, value: dict[str, Any] | None = None
) -> None:
    if value is None:
        value = {"assistant_id": row.assistant_id}
        if action == "read":
            value["metadata"] = dict(row.metadata_ or {})
    await require_visible(
        auth, "assistants", action, value, row.metadata_, f"Assistant {row.assistant_id} not found"
    )


async def graph_of(
    sessions: Sessions, auth: CarriesAuth, graph_ids: list[str], assistant_id: str, owner: str
) -> str:
    """The graph of an assistant (by UUID or graph name) the caller may read."""
    async with sessions() as session:
        row = await resolve_assistant(session, graph_ids, assistant_id)
    if row.owner not in ("", owner):
        raise _not_found(assistant_id)
    await _check(auth, row, "read")
    return row.graph_id


async def search_assistants(
    sessions: Sessions,
    auth: CarriesAuth,
    owner: str,
    data: AssistantSearch,
    *,
    count_only: bool = False,
) -> tuple[Sequence[AssistantRow], int]:
    """The search, with the ``assistants.search`` handler's filter AND-ed in."""
    value = {
        "graph_id": data.graph_id,
        "metadata": dict(data.metadata or {}),
        "limit": data.limit,
        "offset": data.offset,
    }
    query: dict[str, Any] = {
        "graph_id": data.graph_id,
        "name": data.name,
        "sort_by": data.sort_by,
        "sort_order": data.sort_order,
        "owner": owner,
    }

    async def search(
        metadata: dict[str, Any], limit: int, offset: int
    ) -> tuple[Sequence[AssistantRow], int]:
        async with sessions() as session:
            return await repository.search_assistants(
                session, **query, metadata=metadata, limit=limit, offset=offset
            )

    return await authorized_page(
        auth,
        "assistants",
        value,
        data.metadata,
        search,
        limit=0 if count_only else data.limit,
        offset=data.offset,
        metadata_of=lambda row: row.metadata_,
    )


async def delete_assistant(
    sessions: Sessions, auth: CarriesAuth, assistant_id: str, owner: str
) -> None:
    """Delete an assistant, its versions and its crons."""
    async with sessions.begin() as session:
        row = await owned_assistant(auth, session, assistant_id, owner, "delete")
        await session.execute(
            sql_delete(AssistantVersionRow).where(
                AssistantVersionRow.assistant_id == row.assistant_id
            )
        )
        await crons.delete_crons_of(session, assistant_id=row.assistant_id)
        await session.delete(row)


async def list_versions(
    sessions: Sessions, auth: CarriesAuth, assistant_id: str, owner: str, data: VersionsSearch
) -> list[AssistantVersionRow]:
    """An assistant's versions whose metadata contains ``data.metadata``, newest first."""
    async with sessions() as session:
        await owned_assistant(auth, session, assistant_id, owner)
        query = select(AssistantVersionRow).where(AssistantVersionRow.assistant_id == assistant_id)
        rows = (await session.scalars(query.order_by(AssistantVersionRow.version.desc()))).all()
    wanted = data.metadata or {}
    matching = [r for r in rows if all((r.metadata_ or {}).get(k) == v for k, v in wanted.items())]
    return matching[data.offset : data.offset + data.limit]


async def create(
    sessions: Sessions, auth: CarriesAuth, graph_ids: list[str], owner: str, data: AssistantCreate
) -> AssistantRow:
    """Create an assistant for a graph (``if_exists`` decides about a taken id)."""
    if data.assistant_id:
        require_uuid(data.assistant_id, "assistant")
    value: dict[str, Any] = {
        "assistant_id": data.assistant_id,
        "graph_id": data.graph_id,
        "config": data.config or {},
        "context": data.context or {},
        "metadata": dict(data.metadata or {}),
        "if_exists": data.if_exists,
        "name": data.name,
    }
    rule = await authorize(auth, "assistants", "create", value)
    data.metadata = value["metadata"]
    try:
        async with sessions.begin() as session:
            return await create_assistant(session, data, owner, graph_ids, rule)
    except IntegrityError:  # created concurrently: answer as if it had been there first
        async with sessions.begin() as session:
            return await create_assistant(session, data, owner, graph_ids, rule)


async def update(
    sessions: Sessions,
    auth: CarriesAuth,
    graph_ids: list[str],
    assistant_id: str,
    owner: str,
    data: AssistantPatch,
) -> AssistantRow:
    """Change an assistant: a new version becomes current."""
    value: dict[str, Any] = {
        "assistant_id": assistant_id,
        "graph_id": data.graph_id,
        "config": data.config,
        "context": data.context,
        "metadata": dict(data.metadata or {}),
        "name": data.name,
    }
    async with sessions.begin() as session:
        row = await owned_assistant(auth, session, assistant_id, owner, "update", value)
        data.metadata = value.get("metadata") or None  # a handler may stamp it
        return await patch_assistant(session, row, data, graph_ids)


async def make_latest(
    sessions: Sessions, auth: CarriesAuth, assistant_id: str, owner: str, data: SetLatest
) -> AssistantRow:
    """Make a version current."""
    value = {"assistant_id": assistant_id, "version": data.version}
    async with sessions.begin() as session:
        row = await owned_assistant(auth, session, assistant_id, owner, "update", value)
        return await set_latest(session, row, data.version)


async def get(sessions: Sessions, auth: CarriesAuth, assistant_id: str, owner: str) -> AssistantRow:
    """One of the caller's (or a system) assistants."""
    async with sessions() as session:
        return await owned_assistant(auth, session, assistant_id, owner)

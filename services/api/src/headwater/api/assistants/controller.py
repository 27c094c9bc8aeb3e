"""``/assistants``: system assistants per graph, create, get, patch (versions), delete, search,
count, and the graph's drawing and schemas (answered by a worker).

The ``assistants`` auth handlers run on every action: ``create`` may stamp metadata; reads
(versions, graph, schemas and subgraphs included), updates (patch, latest) and deletes are a 404
when the handler's filter does not match the assistant's metadata; search and count AND it in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import Controller, Response, delete, get, patch, post
from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.api.assistants.versions import create_assistant, patch_assistant, set_latest
from headwater.api.auth.authorization import authorize, authorized_page, require_visible
from headwater.api.auth.custom import Forbidden
from headwater.api.runs.admission import resolve_assistant
from headwater.api.shared.context import ApiContext
from headwater.api.shared.errors import NotFound, Unprocessable
from headwater.api.shared.ids import require_uuid
from headwater.api.shared.paging import page
from headwater.api.shared.schemas import (
    AssistantCreate,
    AssistantPatch,
    AssistantSearch,
    SetLatest,
    VersionsSearch,
)
from headwater.api.shared.search_shapes import shaped
from headwater.api.shared.wire import assistant_json, iso
from headwater.api.threads.access import ask_worker
from headwater.common.db import crons, repository
from headwater.common.db.models import AssistantRow, AssistantVersionRow
from headwater.common.ids import assistant_id_for_graph
from headwater.common.schemas import GraphRequest


async def register_system_assistants(session: AsyncSession, graph_ids: list[str]) -> None:
    """One default assistant per graph, with langgraph-api's deterministic ids."""
    for graph_id in graph_ids:
        await repository.ensure_system_assistant(
            session, assistant_id_for_graph(graph_id), graph_id, graph_id
        )


def _not_found(assistant_id: str) -> NotFound:
    return NotFound(f"Assistant {assistant_id} not found")


async def _owned(
    ctx: ApiContext,
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
    await _check(ctx, row, action, value)
    return row


async def _check(
    ctx: ApiContext, row: AssistantRow, action: str, value: dict[str, Any] | None = None
) -> None:
    if value is None:
        value = {"assistant_id": row.assistant_id}
        if action == "read":
            value["metadata"] = dict(row.metadata_ or {})
    await require_visible(
        ctx, "assistants", action, value, row.metadata_, f"Assistant {row.assistant_id} not found"
    )


async def _graph_of(ctx: ApiContext, assistant_id: str, owner: str) -> str:
    """The graph of an assistant (by UUID or graph name) the caller may read."""
    async with ctx.sessions() as session:
        row = await resolve_assistant(session, ctx, assistant_id)
    if row.owner not in ("", owner):
        raise _not_found(assistant_id)
    await _check(ctx, row, "read")
    return row.graph_id


async def _search(
    ctx: ApiContext, owner: str, data: AssistantSearch, *, count_only: bool = False
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
        async with ctx.sessions() as session:
            return await repository.search_assistants(
                session, **query, metadata=metadata, limit=limit, offset=offset
            )

    return await authorized_page(
        ctx,
        "assistants",
        value,
        data.metadata,
        search,
        limit=0 if count_only else data.limit,
        offset=data.offset,
        metadata_of=lambda row: row.metadata_,
    )


def _version_json(row: AssistantVersionRow) -> dict[str, Any]:
    return {
        "assistant_id": row.assistant_id,
        "version": row.version,
        "graph_id": row.graph_id,
        "config": row.config,
        "context": row.context,
        "metadata": row.metadata_,
        "created_at": iso(row.created_at),
        "name": row.name,
        "description": row.description,
    }


class AssistantsController(Controller):
    """Assistants."""

    path = "/assistants"
    tags = ["Assistants"]

    @post("/", status_code=200)
    async def create(self, ctx: ApiContext, owner: str, data: AssistantCreate) -> dict[str, Any]:
        """Create an assistant for a graph."""
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
        rule = await authorize(ctx, "assistants", "create", value)
        data.metadata = value["metadata"]
        try:
            async with ctx.sessions.begin() as session:
                row = await create_assistant(session, data, owner, ctx.graph_ids, rule)
        except IntegrityError:  # created concurrently: answer as if it had been there first
            async with ctx.sessions.begin() as session:
                row = await create_assistant(session, data, owner, ctx.graph_ids, rule)
        return assistant_json(row)

    @get("/{assistant_id:str}")
    async def get_assistant(self, ctx: ApiContext, owner: str, assistant_id: str) -> dict[str, Any]:
        """One assistant by UUID."""
        async with ctx.sessions() as session:
            return assistant_json(await _owned(ctx, session, assistant_id, owner))

    @patch("/{assistant_id:str}")
    async def update(
        self, ctx: ApiContext, owner: str, assistant_id: str, data: AssistantPatch
    ) -> dict[str, Any]:
        """Change an assistant: a new version becomes current."""
        value: dict[str, Any] = {
            "assistant_id": assistant_id,
            "graph_id": data.graph_id,
            "config": data.config,
            "context": data.context,
            "metadata": dict(data.metadata or {}),
            "name": data.name,
        }
        async with ctx.sessions.begin() as session:
            row = await _owned(ctx, session, assistant_id, owner, "update", value)
            data.metadata = value.get("metadata") or None  # a handler may stamp it
            row = await patch_assistant(session, row, data, ctx.graph_ids)
        return assistant_json(row)

    @delete("/{assistant_id:str}", status_code=204)
    async def delete_assistant(self, ctx: ApiContext, owner: str, assistant_id: str) -> None:
        """Delete an assistant and its versions."""
        async with ctx.sessions.begin() as session:
            row = await _owned(ctx, session, assistant_id, owner, "delete")
            await session.execute(
                sql_delete(AssistantVersionRow).where(
                    AssistantVersionRow.assistant_id == row.assistant_id
                )
            )
            await crons.delete_crons_of(session, assistant_id=row.assistant_id)
            await session.delete(row)

    @post("/{assistant_id:str}/versions", status_code=200)
    async def versions(
        self, ctx: ApiContext, owner: str, assistant_id: str, data: VersionsSearch
    ) -> list[dict[str, Any]]:
        """Versions, newest first."""
        async with ctx.sessions() as session:
            await _owned(ctx, session, assistant_id, owner)
            query = select(AssistantVersionRow).where(
                AssistantVersionRow.assistant_id == assistant_id
            )
            rows = (await session.scalars(query.order_by(AssistantVersionRow.version.desc()))).all()
        wanted = data.metadata or {}
        matching = [
            r for r in rows if all((r.metadata_ or {}).get(k) == v for k, v in wanted.items())
        ]
        return [_version_json(r) for r in matching[data.offset : data.offset + data.limit]]

    @post("/{assistant_id:str}/latest", status_code=200)
    async def latest(
        self, ctx: ApiContext, owner: str, assistant_id: str, data: SetLatest
    ) -> dict[str, Any]:
        """Make a version current."""
        value = {"assistant_id": assistant_id, "version": data.version}
        async with ctx.sessions.begin() as session:
            row = await _owned(ctx, session, assistant_id, owner, "update", value)
            row = await set_latest(session, row, data.version)
        return assistant_json(row)

    @post("/search", status_code=200)
    async def search_assistants(
        self, ctx: ApiContext, owner: str, data: AssistantSearch
    ) -> Response[list[dict[str, Any]]]:
        """Search by graph, metadata and name."""
        rows, total = await _search(ctx, owner, data)
        return page(shaped([assistant_json(r) for r in rows], data.select), data.offset, total)

    @post("/count", status_code=200)
    async def count_assistants(self, ctx: ApiContext, owner: str, data: AssistantSearch) -> int:
        """How many assistants match."""
        _, total = await _search(ctx, owner, data, count_only=True)
        return total

    @get("/{assistant_id:str}/graph")
    async def graph(
        self, ctx: ApiContext, owner: str, assistant_id: str, xray: str = "false"
    ) -> Response[bytes]:
        """The graph's nodes and edges (``xray`` true or a depth for subgraphs)."""
        depth: int | bool
        if xray.lower() in ("true", "false"):
            depth = xray.lower() == "true"
        elif xray.isdigit():
            depth = int(xray)
        else:
            raise Unprocessable("xray must be true, false or a non-negative integer")
        request = GraphRequest(
            op="graph", graph_id=await _graph_of(ctx, assistant_id, owner), thread_id="", xray=depth
        )
        return Response(await ask_worker(ctx, request), media_type="application/json")

    @get("/{assistant_id:str}/schemas")
    async def schemas(self, ctx: ApiContext, owner: str, assistant_id: str) -> Response[bytes]:
        """Input, output, state, config and context JSON schemas."""
        request = GraphRequest(
            op="schemas", graph_id=await _graph_of(ctx, assistant_id, owner), thread_id=""
        )
        return Response(await ask_worker(ctx, request), media_type="application/json")

    @get(["/{assistant_id:str}/subgraphs", "/{assistant_id:str}/subgraphs/{namespace:str}"])
    async def subgraphs(
        self,
        ctx: ApiContext,
        owner: str,
        assistant_id: str,
        namespace: str | None = None,
        recurse: bool = False,
    ) -> Response[bytes]:
        """Schemas of the graph's subgraphs by namespace."""
        graph_id = await _graph_of(ctx, assistant_id, owner)
        request = GraphRequest(
            op="subgraphs", graph_id=graph_id, thread_id="", namespace=namespace, recurse=recurse
        )
        return Response(await ask_worker(ctx, request), media_type="application/json")

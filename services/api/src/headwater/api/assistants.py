"""``/assistants``: get, search, count (one system assistant per graph)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.api.context import ApiContext
from headwater.api.deps import require_uuid
from headwater.api.errors import NotFound
from headwater.api.schemas import AssistantSearch
from headwater.api.wire import assistant_json
from headwater.common.db import repository
from headwater.common.db.models import AssistantRow
from headwater.common.ids import assistant_id_for_graph


async def register_system_assistants(session: AsyncSession, graph_ids: list[str]) -> None:
    """One default assistant per graph, with langgraph-api's deterministic ids."""
    for graph_id in graph_ids:
        await repository.ensure_system_assistant(
            session, assistant_id_for_graph(graph_id), graph_id, graph_id
        )


class AssistantsController(Controller):
    """Assistants."""

    path = "/assistants"
    tags = ["Assistants"]

    @get("/{assistant_id:str}")
    async def get_assistant(self, ctx: ApiContext, owner: str, assistant_id: str) -> dict[str, Any]:
        """One assistant by UUID."""
        require_uuid(assistant_id, "assistant")
        async with ctx.sessions() as session:
            row = await session.get(AssistantRow, assistant_id)
        if row is None or row.owner not in ("", owner):
            raise NotFound(f"Assistant {assistant_id} not found")
        return assistant_json(row)

    @post("/search", status_code=200)
    async def search_assistants(
        self, ctx: ApiContext, owner: str, data: AssistantSearch
    ) -> Response[list[dict[str, Any]]]:
        """Search by graph, metadata and name."""
        async with ctx.sessions() as session:
            rows, total = await repository.search_assistants(
                session,
                graph_id=data.graph_id,
                metadata=data.metadata or {},
                name=data.name,
                limit=data.limit,
                offset=data.offset,
                sort_by=data.sort_by,
                sort_order=data.sort_order,
            )
        headers = {"X-Pagination-Total": str(total)}
        if data.offset + len(rows) < total:
            headers["X-Pagination-Next"] = str(data.offset + len(rows))
        return Response([assistant_json(r) for r in rows], headers=headers)

    @post("/count", status_code=200)
    async def count_assistants(self, ctx: ApiContext, data: AssistantSearch) -> int:
        """How many assistants match."""
        async with ctx.sessions() as session:
            _, total = await repository.search_assistants(
                session,
                graph_id=data.graph_id,
                metadata=data.metadata or {},
                name=data.name,
                limit=0,
                offset=0,
                sort_by="created_at",
                sort_order="desc",
            )
        return total

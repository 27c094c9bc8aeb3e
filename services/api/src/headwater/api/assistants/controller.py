"""``/assistants``: create, get, patch (versions), delete, search, count, and the graph's
drawing and schemas (answered by a worker).

The ``assistants`` auth handlers run on every action: ``create`` may stamp metadata; reads
(versions, graph, schemas and subgraphs included), updates (patch, latest) and deletes are a 404
when the handler's filter does not match the assistant's metadata; search and count AND it in.
The work is :mod:`headwater.api.assistants.service`'s.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from headwater.api.assistants import service
from headwater.api.assistants.schemas import (
    AssistantCreate,
    AssistantPatch,
    AssistantSearch,
    SetLatest,
    VersionsSearch,
)
from headwater.api.auth.authorization import AuthHandlers
from headwater.api.shared.context import Sessions
from headwater.api.shared.errors import Unprocessable
from headwater.api.shared.paging import page
from headwater.api.shared.search_shapes import shaped
from headwater.api.shared.wire import assistant_json, iso
from headwater.api.threads.access import ask_worker
from headwater.common.bus import Bus
from headwater.common.db.models import AssistantVersionRow
from headwater.common.schemas import GraphRequest
from headwater.common.settings import Settings


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


async def _ask(bus: Bus, settings: Settings, request: GraphRequest) -> Response[bytes]:
    body = await ask_worker(bus, request, settings.request_timeout_s)
    return Response(body, media_type="application/json")


class AssistantsController(Controller):
    """Assistants."""

    path = "/assistants"
    tags = ["Assistants"]

    @post("/", status_code=200)
    async def create(
        self,
        sessions: NamedDependency[Sessions],
        auth: NamedDependency[AuthHandlers],
        graph_ids: NamedDependency[list[str]],
        owner: NamedDependency[str],
        data: JSONBody[AssistantCreate],
    ) -> dict[str, Any]:
        """Create an assistant for a graph."""
        return assistant_json(await service.create(sessions, auth, graph_ids, owner, data))

    @get("/{assistant_id:str}")
    async def get_assistant(
        self,
        sessions: NamedDependency[Sessions],
        auth: NamedDependency[AuthHandlers],
        owner: NamedDependency[str],
        assistant_id: FromPath[str],
    ) -> dict[str, Any]:
        """One assistant by UUID."""
        return assistant_json(await service.get(sessions, auth, assistant_id, owner))

    @patch("/{assistant_id:str}")
    async def update(
        self,
        sessions: NamedDependency[Sessions],
        auth: NamedDependency[AuthHandlers],
        graph_ids: NamedDependency[list[str]],
        owner: NamedDependency[str],
        assistant_id: FromPath[str],
        data: JSONBody[AssistantPatch],
    ) -> dict[str, Any]:
        """Change an assistant: a new version becomes current."""
        row = await service.update(sessions, auth, graph_ids, assistant_id, owner, data)
        return assistant_json(row)

    @delete("/{assistant_id:str}", status_code=204)
    async def delete_assistant(
        self,
        sessions: NamedDependency[Sessions],
        auth: NamedDependency[AuthHandlers],
        owner: NamedDependency[str],
        assistant_id: FromPath[str],
    ) -> None:
        """Delete an assistant and its versions."""
        await service.delete_assistant(sessions, auth, assistant_id, owner)

    @post("/{assistant_id:str}/versions", status_code=200)
    async def versions(
        self,
        sessions: NamedDependency[Sessions],
        auth: NamedDependency[AuthHandlers],
        owner: NamedDependency[str],
        assistant_id: FromPath[str],
        data: JSONBody[VersionsSearch],
    ) -> list[dict[str, Any]]:
        """Versions, newest first."""
        rows = await service.list_versions(sessions, auth, assistant_id, owner, data)
        return [_version_json(r) for r in rows]

    @post("/{assistant_id:str}/latest", status_code=200)
    async def latest(
        self,
        sessions: NamedDependency[Sessions],
        auth: NamedDependency[AuthHandlers],
        owner: NamedDependency[str],
        assistant_id: FromPath[str],
        data: JSONBody[SetLatest],
    ) -> dict[str, Any]:
        """Make a version current."""
        return assistant_json(await service.make_latest(sessions, auth, assistant_id, owner, data))

    @post("/search", status_code=200)
    async def search_assistants(
        self,
        sessions: NamedDependency[Sessions],
        auth: NamedDependency[AuthHandlers],
        owner: NamedDependency[str],
        data: JSONBody[AssistantSearch],
    ) -> Response[list[dict[str, Any]]]:
        """Search by graph, metadata and name."""
        rows, total = await service.search_assistants(sessions, auth, owner, data)
        return page(shaped([assistant_json(r) for r in rows], data.select), data.offset, total)

    @post("/count", status_code=200)
    async def count_assistants(
        self,
        sessions: NamedDependency[Sessions],
        auth: NamedDependency[AuthHandlers],
        owner: NamedDependency[str],
        data: JSONBody[AssistantSearch],
    ) -> int:
        """How many assistants match."""
        _, total = await service.search_assistants(sessions, auth, owner, data, count_only=True)
        return total

    @get("/{assistant_id:str}/graph")
    async def graph(
        self,
        sessions: NamedDependency[Sessions],
        bus: NamedDependency[Bus],
        settings: NamedDependency[Settings],
        auth: NamedDependency[AuthHandlers],
        graph_ids: NamedDependency[list[str]],
        owner: NamedDependency[str],
        assistant_id: FromPath[str],
        xray: FromQuery[str] = "false",
    ) -> Response[bytes]:
        """The graph's nodes and edges (``xray`` true or a depth for subgraphs)."""
        depth: int | bool
        if xray.lower() in ("true", "false"):
            depth = xray.lower() == "true"
        elif xray.isdigit():
            depth = int(xray)
        else:
            raise Unprocessable("xray must be true, false or a non-negative integer")
        graph_id = await service.graph_of(sessions, auth, graph_ids, assistant_id, owner)
        return await _ask(
            bus, settings, GraphRequest(op="graph", graph_id=graph_id, thread_id="", xray=depth)
        )

    @get("/{assistant_id:str}/schemas")
    async def schemas(
        self,
        sessions: NamedDependency[Sessions],
        bus: NamedDependency[Bus],
        settings: NamedDependency[Settings],
        auth: NamedDependency[AuthHandlers],
        graph_ids: NamedDependency[list[str]],
        owner: NamedDependency[str],
        assistant_id: FromPath[str],
    ) -> Response[bytes]:
        """Input, output, state, config and context JSON schemas."""
        graph_id = await service.graph_of(sessions, auth, graph_ids, assistant_id, owner)
        return await _ask(
            bus, settings, GraphRequest(op="schemas", graph_id=graph_id, thread_id="")
        )

    @get(["/{assistant_id:str}/subgraphs", "/{assistant_id:str}/subgraphs/{namespace:str}"])
    async def subgraphs(
        self,
        sessions: NamedDependency[Sessions],
        bus: NamedDependency[Bus],
        settings: NamedDependency[Settings],
        auth: NamedDependency[AuthHandlers],
        graph_ids: NamedDependency[list[str]],
        owner: NamedDependency[str],
        assistant_id: FromPath[str],
        namespace: FromPath[str | None] = None,
        recurse: FromQuery[bool] = False,
    ) -> Response[bytes]:
        """Schemas of the graph's subgraphs by namespace."""
        graph_id = await service.graph_of(sessions, auth, graph_ids, assistant_id, owner)
        request = GraphRequest(
            op="subgraphs", graph_id=graph_id, thread_id="", namespace=namespace, recurse=recurse
        )
        return await _ask(bus, settings, request)

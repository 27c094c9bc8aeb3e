"""``/threads``: create, get, patch, delete, search, count, state."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Response, delete, get, patch, post

from headwater.api.context import ApiContext
from headwater.api.deps import require_uuid
from headwater.api.errors import Conflict, NotFound, Unavailable
from headwater.api.schemas import ThreadCreate, ThreadPatch, ThreadSearch
from headwater.api.wire import EMPTY_STATE, thread_json
from headwater.common.db import repository
from headwater.common.db.models import ThreadRow, utcnow
from headwater.common.ids import uuid7
from headwater.common.schemas import GraphRequest, encoder, graph_reply_decoder


async def _owned_thread(ctx: ApiContext, thread_id: str, owner: str) -> ThreadRow:
    require_uuid(thread_id, "thread")
    async with ctx.sessions() as session:
        thread = await session.get(ThreadRow, thread_id)
    if thread is None or thread.owner != owner:
        raise NotFound(f"Thread with ID {thread_id} not found")
    return thread


async def thread_state(
    ctx: ApiContext, thread: ThreadRow, checkpoint_id: str | None, subgraphs: bool
) -> Response[bytes]:
    """Ask a worker for the state (the API has no graphs); empty for a thread never run."""
    graph_id = (thread.metadata_ or {}).get("graph_id")
    if not graph_id:
        return Response(msgspec.json.encode(EMPTY_STATE), media_type="application/json")
    request = GraphRequest(
        op="state",
        graph_id=graph_id,
        thread_id=thread.thread_id,
        checkpoint_id=checkpoint_id,
        subgraphs=subgraphs,
        owner=thread.owner,
    )
    try:
        raw = await ctx.bus.request(encoder.encode(request), timeout=ctx.settings.request_timeout_s)
    except TimeoutError as exc:
        raise Unavailable("No worker answered the thread state request") from exc
    reply = graph_reply_decoder.decode(raw)
    if reply.status != 200:
        raise (NotFound if reply.status == 404 else Unavailable)(
            reply.detail or "thread state unavailable"
        )
    return Response(bytes(reply.body), media_type="application/json")


class ThreadsController(Controller):
    """Threads and their state."""

    path = "/threads"
    tags = ["Threads"]

    @post("/", status_code=200)
    async def create_thread(
        self, ctx: ApiContext, owner: str, data: ThreadCreate
    ) -> dict[str, Any]:
        """Create a thread (200, as langgraph-api answers)."""
        thread_id = require_uuid(data.thread_id, "thread") if data.thread_id else uuid7()
        async with ctx.sessions.begin() as session:
            existing = await session.get(ThreadRow, thread_id)
            if existing is not None:
                if data.if_exists == "do_nothing" and existing.owner == owner:
                    return thread_json(existing)
                raise Conflict(f"Thread {thread_id} already exists")
            thread = repository.new_thread(thread_id, data.metadata or {}, owner)
            session.add(thread)
        return thread_json(thread)

    @post("/search", status_code=200)
    async def search_threads(
        self, ctx: ApiContext, owner: str, data: ThreadSearch
    ) -> Response[list[dict[str, Any]]]:
        """Search by metadata, status and ids; newest first by default."""
        async with ctx.sessions() as session:
            rows, total = await repository.search_threads(
                session,
                ids=data.ids,
                metadata={**(data.metadata or {})},
                status=data.status,
                limit=data.limit,
                offset=data.offset,
                sort_by=data.sort_by,
                sort_order=data.sort_order,
                owner=owner,
            )
        headers = {"X-Pagination-Total": str(total)}
        if data.offset + len(rows) < total:
            headers["X-Pagination-Next"] = str(data.offset + len(rows))
        return Response([thread_json(r) for r in rows], headers=headers)

    @post("/count", status_code=200)
    async def count_threads(self, ctx: ApiContext, owner: str, data: ThreadSearch) -> int:
        """How many threads match."""
        async with ctx.sessions() as session:
            _, total = await repository.search_threads(
                session,
                ids=data.ids,
                metadata=data.metadata or {},
                status=data.status,
                limit=0,
                offset=0,
                sort_by="created_at",
                sort_order="desc",
                owner=owner,
            )
        return total

    @get("/{thread_id:str}")
    async def get_thread(self, ctx: ApiContext, owner: str, thread_id: str) -> dict[str, Any]:
        """One thread."""
        return thread_json(await _owned_thread(ctx, thread_id, owner))

    @patch("/{thread_id:str}")
    async def patch_thread(
        self, ctx: ApiContext, owner: str, thread_id: str, data: ThreadPatch
    ) -> dict[str, Any]:
        """Merge metadata."""
        await _owned_thread(ctx, thread_id, owner)
        async with ctx.sessions.begin() as session:
            thread = await session.get(ThreadRow, thread_id)
            if thread is None:
                raise NotFound(f"Thread with ID {thread_id} not found")
            thread.metadata_ = {**(thread.metadata_ or {}), **(data.metadata or {})}
            thread.updated_at = utcnow()
        return thread_json(thread)

    @delete("/{thread_id:str}", status_code=204)
    async def delete_thread(self, ctx: ApiContext, owner: str, thread_id: str) -> None:
        """Delete a thread and its runs."""
        await _owned_thread(ctx, thread_id, owner)
        async with ctx.sessions.begin() as session:
            await repository.delete_thread(session, thread_id)

    @get("/{thread_id:str}/state")
    async def get_state(
        self, ctx: ApiContext, owner: str, thread_id: str, subgraphs: bool = False
    ) -> Response[bytes]:
        """The thread's current state."""
        thread = await _owned_thread(ctx, thread_id, owner)
        return await thread_state(ctx, thread, None, subgraphs)

    @get("/{thread_id:str}/state/{checkpoint_id:str}")
    async def get_state_at(
        self,
        ctx: ApiContext,
        owner: str,
        thread_id: str,
        checkpoint_id: str,
        subgraphs: bool = False,
    ) -> Response[bytes]:
        """The thread's state at a checkpoint."""
        thread = await _owned_thread(ctx, thread_id, owner)
        return await thread_state(ctx, thread, checkpoint_id, subgraphs)

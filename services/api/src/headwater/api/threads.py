"""``/threads``: create, get, patch, delete, search, count, state."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Response, delete, get, patch, post
from litestar.params import Parameter

from headwater.api.authorization import authorize, require_visible
from headwater.api.context import ApiContext
from headwater.api.custom_auth import equality_filter, filter_matches
from headwater.api.deps import require_uuid
from headwater.api.errors import ApiError, Conflict, NotFound, Unavailable
from headwater.api.schemas import (
    CheckpointQuery,
    HistorySearch,
    StateUpdate,
    ThreadCreate,
    ThreadPatch,
    ThreadSearch,
)
from headwater.api.wire import EMPTY_STATE, page, thread_json
from headwater.common.db import repository
from headwater.common.db.models import ThreadRow, utcnow
from headwater.common.ids import uuid7
from headwater.common.schemas import GraphRequest, encoder, graph_reply_decoder


async def _owned_thread(
    ctx: ApiContext, thread_id: str, owner: str, action: str = "read"
) -> ThreadRow:
    require_uuid(thread_id, "thread")
    async with ctx.sessions() as session:
        thread = await session.get(ThreadRow, thread_id)
    detail = f"Thread with ID {thread_id} not found"
    if thread is None or thread.owner != owner:
        raise NotFound(detail)
    await require_visible(
        ctx,
        "threads",
        action,
        {"thread_id": thread_id, "metadata": thread.metadata_},
        thread.metadata_,
        detail,
    )
    return thread


async def _search_filter(
    ctx: ApiContext, data: ThreadSearch
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The search's metadata with the auth handler's filter AND-ed in (or kept for afterwards)."""
    metadata = dict(data.metadata or {})
    rule = await authorize(
        ctx,
        "threads",
        "search",
        {"metadata": metadata, "status": data.status, "limit": data.limit, "offset": data.offset},
    )
    plain = equality_filter(rule)
    if plain is not None:
        return {**metadata, **plain}, None
    return metadata, rule


async def ask_worker(ctx: ApiContext, request: GraphRequest) -> bytes:
    """A graph question answered by any worker; its JSON body, or the mapped error."""
    try:
        raw = await ctx.bus.request(encoder.encode(request), timeout=ctx.settings.request_timeout_s)
    except TimeoutError as exc:
        raise Unavailable("No worker answered; are workers running?") from exc
    reply = graph_reply_decoder.decode(raw)
    if reply.status == 200:
        return bytes(reply.body)
    detail = reply.detail or "graph request failed"
    if reply.status == 404:
        raise NotFound(detail)
    if reply.status == 400:
        raise ApiError(detail)
    raise Unavailable(detail)


def _graph_of(thread: ThreadRow) -> str | None:
    graph_id = (thread.metadata_ or {}).get("graph_id")
    return str(graph_id) if graph_id else None


async def thread_state(
    ctx: ApiContext,
    thread: ThreadRow,
    checkpoint_id: str | None,
    subgraphs: bool,
    checkpoint_ns: str = "",
) -> Response[bytes]:
    """The thread's state (at a checkpoint); empty for a thread that never ran."""
    graph_id = _graph_of(thread)
    if not graph_id:
        return Response(msgspec.json.encode(EMPTY_STATE), media_type="application/json")
    request = GraphRequest(
        op="state",
        graph_id=graph_id,
        thread_id=thread.thread_id,
        checkpoint_id=checkpoint_id,
        subgraphs=subgraphs,
        owner=thread.owner,
        checkpoint_ns=checkpoint_ns,
    )
    return Response(await ask_worker(ctx, request), media_type="application/json")


async def thread_history(
    ctx: ApiContext, thread: ThreadRow, search: HistorySearch
) -> Response[bytes]:
    """Checkpoints of a thread, newest first."""
    graph_id = _graph_of(thread)
    if not graph_id:
        return Response(b"[]", media_type="application/json")
    before = (
        search.before.get("checkpoint_id") if isinstance(search.before, dict) else search.before
    )
    request = GraphRequest(
        op="history",
        graph_id=graph_id,
        thread_id=thread.thread_id,
        owner=thread.owner,
        limit=search.limit,
        before=before,
        metadata=search.metadata,
        checkpoint_ns=(search.checkpoint or {}).get("checkpoint_ns", ""),
    )
    return Response(await ask_worker(ctx, request), media_type="application/json")


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
        value: dict[str, Any] = {
            "thread_id": thread_id,
            "metadata": dict(data.metadata or {}),
            "if_exists": data.if_exists,
        }
        await authorize(ctx, "threads", "create", value)
        data.metadata = value["metadata"]
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
        metadata, post_filter = await _search_filter(ctx, data)
        async with ctx.sessions() as session:
            rows, total = await repository.search_threads(
                session,
                ids=data.ids,
                metadata=metadata,
                status=data.status,
                limit=data.limit,
                offset=data.offset,
                sort_by=data.sort_by,
                sort_order=data.sort_order,
                owner=owner,
            )
        if post_filter:  # filters a containment query cannot express
            rows = [r for r in rows if filter_matches(post_filter, r.metadata_ or {})]
        return page([thread_json(r) for r in rows], data.offset, total)

    @post("/count", status_code=200)
    async def count_threads(self, ctx: ApiContext, owner: str, data: ThreadSearch) -> int:
        """How many threads match."""
        metadata, _ = await _search_filter(ctx, data)
        async with ctx.sessions() as session:
            _, total = await repository.search_threads(
                session,
                ids=data.ids,
                metadata=metadata,
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
        await _owned_thread(ctx, thread_id, owner, "update")
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
        await _owned_thread(ctx, thread_id, owner, "delete")
        async with ctx.sessions.begin() as session:
            await repository.delete_thread(session, thread_id)

    @get("/{thread_id:str}/state")
    async def get_state(
        self, ctx: ApiContext, owner: str, thread_id: str, subgraphs: bool = False
    ) -> Response[bytes]:
        """The thread's current state."""
        thread = await _owned_thread(ctx, thread_id, owner)
        return await thread_state(ctx, thread, None, subgraphs)

    @get("/{thread_id:str}/history")
    async def get_history(
        self,
        ctx: ApiContext,
        owner: str,
        thread_id: str,
        limit: int = Parameter(default=10, ge=1, le=1000),
        before: str | None = None,
    ) -> Response[bytes]:
        """Checkpoints of the thread, newest first."""
        thread = await _owned_thread(ctx, thread_id, owner)
        return await thread_history(ctx, thread, HistorySearch(limit=limit, before=before))

    @post("/{thread_id:str}/history", status_code=200)
    async def search_history(
        self, ctx: ApiContext, owner: str, thread_id: str, data: HistorySearch
    ) -> Response[bytes]:
        """Checkpoints of the thread, filtered; newest first."""
        thread = await _owned_thread(ctx, thread_id, owner)
        return await thread_history(ctx, thread, data)

    @post("/{thread_id:str}/state", status_code=200)
    async def update_state(
        self, ctx: ApiContext, owner: str, thread_id: str, data: StateUpdate
    ) -> Response[bytes]:
        """Write values into the thread's state as if ``as_node`` had returned them."""
        thread = await _owned_thread(ctx, thread_id, owner, "update")
        graph_id = _graph_of(thread)
        if not graph_id:
            raise ApiError(
                f"Thread {thread_id} has no graph yet: run it once before updating its state"
            )
        async with ctx.sessions() as session:
            active = await repository.active_run_ids(session, thread_id)
        if active:
            raise Conflict(f"Thread {thread_id} has in-flight runs: {active}")
        checkpoint_id = data.checkpoint_id or (data.checkpoint or {}).get("checkpoint_id")
        request = GraphRequest(
            op="update_state",
            graph_id=graph_id,
            thread_id=thread_id,
            owner=owner,
            values=data.values,
            as_node=data.as_node,
            checkpoint_id=checkpoint_id,
            checkpoint_ns=(data.checkpoint or {}).get("checkpoint_ns", ""),
        )
        return Response(await ask_worker(ctx, request), media_type="application/json")

    @post("/{thread_id:str}/state/checkpoint", status_code=200)
    async def state_at_checkpoint(
        self, ctx: ApiContext, owner: str, thread_id: str, data: CheckpointQuery
    ) -> Response[bytes]:
        """The thread's state at ``checkpoint``."""
        thread = await _owned_thread(ctx, thread_id, owner)
        return await thread_state(
            ctx,
            thread,
            data.checkpoint.get("checkpoint_id"),
            data.subgraphs,
            data.checkpoint.get("checkpoint_ns", ""),
        )

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

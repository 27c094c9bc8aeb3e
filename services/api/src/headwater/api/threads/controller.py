"""``/threads``: create, get, patch, delete, search, count, state (copy, prune: thread_maintenance)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from litestar import Controller, Response, delete, get, patch, post
from litestar.params import Parameter

from headwater.api.auth.authorization import authorize, authorized_page
from headwater.api.shared.context import ApiContext
from headwater.api.shared.errors import ApiError, Conflict, NotFound
from headwater.api.shared.ids import require_uuid
from headwater.api.shared.paging import page
from headwater.api.shared.schemas import (
    CheckpointQuery,
    HistorySearch,
    StateUpdate,
    ThreadCreate,
    ThreadPatch,
    ThreadSearch,
)
from headwater.api.shared.search_shapes import shaped
from headwater.api.shared.wire import EMPTY_STATE, thread_json, thread_ttl_json
from headwater.api.threads.access import ask_worker, owned_thread
from headwater.api.threads.maintenance import erase_threads
from headwater.common.db import repository
from headwater.common.db.models import ThreadRow, utcnow
from headwater.common.ids import uuid7
from headwater.common.schemas import GraphRequest


async def _matching_threads(
    ctx: ApiContext, owner: str, data: ThreadSearch, *, count_only: bool = False
) -> tuple[Sequence[ThreadRow], int]:
    """One page of the caller's threads matching the search and the auth handler's filter,
    and how many match in all (what SQL cannot express is applied before paging)."""
    value = {
        "metadata": dict(data.metadata or {}),
        "values": data.values,
        "status": data.status,
        "ids": data.ids,
        "limit": data.limit,
        "offset": data.offset,
    }
    query: dict[str, Any] = {
        "ids": data.ids,
        "values": data.values,
        "status": data.status,
        "sort_by": data.sort_by,
        "sort_order": data.sort_order,
        "owner": owner,
    }

    async def search(
        metadata: dict[str, Any], limit: int, offset: int
    ) -> tuple[Sequence[ThreadRow], int]:
        async with ctx.sessions() as session:
            return await repository.search_threads(
                session, **query, metadata=metadata, limit=limit, offset=offset
            )

    return await authorized_page(
        ctx,
        "threads",
        value,
        data.metadata,
        search,
        limit=0 if count_only else data.limit,
        offset=data.offset,
        metadata_of=lambda row: row.metadata_,
    )


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


def _existing_thread(
    thread_id: str, thread: ThreadRow | None, owner: str, if_exists: str
) -> ThreadRow:
    """What a create answers for an id already taken (``None``: taken and gone meanwhile)."""
    if thread is not None and thread.owner != owner:
        raise NotFound(f"Thread with ID {thread_id} not found")
    if thread is not None and if_exists == "do_nothing":
        return thread
    raise Conflict(f"Thread {thread_id} already exists")


class ThreadsController(Controller):
    """Threads and their state."""

    path = "/threads"
    tags = ["Threads"]

    @post("/", status_code=200)
    async def create_thread(
        self, ctx: ApiContext, owner: str, data: ThreadCreate
    ) -> dict[str, Any]:
        """Create a thread (200, as langgraph-api answers).

        An id taken by the caller: 409, or that thread with ``if_exists="do_nothing"``; an id
        taken by another user: 404, as every other request about it answers. Concurrent
        creates of one id are settled by the database: one creates it, the others see it.
        """
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
                return thread_json(_existing_thread(thread_id, existing, owner, data.if_exists))
            # A chosen id may have been a deleted thread's: its old events stay out of sight.
            after = await ctx.bus.last_event_seq() if data.thread_id else 0
            thread = repository.new_thread(
                thread_id, data.metadata or {}, owner, events_after=after
            )
            if data.ttl is not None:
                repository.set_thread_ttl(thread, data.ttl.ttl, data.ttl.strategy)
            stored, created = await repository.insert_thread(session, thread)
            if stored is None or not created:
                return thread_json(_existing_thread(thread_id, stored, owner, data.if_exists))
        return thread_json(stored)

    @post("/search", status_code=200)
    async def search_threads(
        self, ctx: ApiContext, owner: str, data: ThreadSearch
    ) -> Response[list[dict[str, Any]]]:
        """Search by metadata, values, status and ids; newest first by default; ``select``
        fields, ``extract`` paths (``{"last": "values.messages[-1]"}``)."""
        rows, total = await _matching_threads(ctx, owner, data)
        found = shaped([thread_json(r) for r in rows], data.select, data.extract)
        return page(found, data.offset, total)

    @post("/count", status_code=200)
    async def count_threads(self, ctx: ApiContext, owner: str, data: ThreadSearch) -> int:
        """How many threads match."""
        _, total = await _matching_threads(ctx, owner, data, count_only=True)
        return total

    @get("/{thread_id:str}")
    async def get_thread(
        self, ctx: ApiContext, owner: str, thread_id: str, include: list[str] | None = None
    ) -> dict[str, Any]:
        """One thread (``?include=ttl``: with its time to live)."""
        thread = await owned_thread(ctx, thread_id, owner)
        body = thread_json(thread)
        if include and "ttl" in include:
            body["ttl"] = thread_ttl_json(thread)
        return body

    @patch("/{thread_id:str}")
    async def patch_thread(
        self, ctx: ApiContext, owner: str, thread_id: str, data: ThreadPatch
    ) -> dict[str, Any]:
        """Merge metadata; a ``ttl`` starts the thread's time to live again."""
        await owned_thread(ctx, thread_id, owner, "update")
        async with ctx.sessions.begin() as session:
            thread = await session.get(ThreadRow, thread_id)
            if thread is None:
                raise NotFound(f"Thread with ID {thread_id} not found")
            thread.metadata_ = {**(thread.metadata_ or {}), **(data.metadata or {})}
            thread.updated_at = utcnow()
            if data.ttl is not None:
                repository.set_thread_ttl(thread, data.ttl.ttl, data.ttl.strategy)
        return thread_json(thread)

    @delete("/{thread_id:str}", status_code=204)
    async def delete_thread(self, ctx: ApiContext, owner: str, thread_id: str) -> None:
        """Delete a thread, its runs (stopping any in flight) and its checkpoints."""
        thread = await owned_thread(ctx, thread_id, owner, "delete")
        await erase_threads(ctx, [thread], owner)

    @get("/{thread_id:str}/state")
    async def get_state(
        self, ctx: ApiContext, owner: str, thread_id: str, subgraphs: bool = False
    ) -> Response[bytes]:
        """The thread's current state."""
        thread = await owned_thread(ctx, thread_id, owner)
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
        thread = await owned_thread(ctx, thread_id, owner)
        return await thread_history(ctx, thread, HistorySearch(limit=limit, before=before))

    @post("/{thread_id:str}/history", status_code=200)
    async def search_history(
        self, ctx: ApiContext, owner: str, thread_id: str, data: HistorySearch
    ) -> Response[bytes]:
        """Checkpoints of the thread, filtered; newest first."""
        thread = await owned_thread(ctx, thread_id, owner)
        return await thread_history(ctx, thread, data)

    @post("/{thread_id:str}/state", status_code=200)
    async def update_state(
        self, ctx: ApiContext, owner: str, thread_id: str, data: StateUpdate
    ) -> Response[bytes]:
        """Write values into the thread's state as if ``as_node`` had returned them."""
        thread = await owned_thread(ctx, thread_id, owner, "update")
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
        thread = await owned_thread(ctx, thread_id, owner)
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
        thread = await owned_thread(ctx, thread_id, owner)
        return await thread_state(ctx, thread, checkpoint_id, subgraphs)

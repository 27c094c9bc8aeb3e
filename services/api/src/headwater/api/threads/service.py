"""Threads: search, create, patch, and the questions about their state a worker answers
(state, history, state updates). No Litestar here (an import-linter contract)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from headwater.api.auth.authorization import CarriesAuth, authorize, authorized_page
from headwater.api.shared.context import Sessions
from headwater.api.shared.errors import ApiError, Conflict, NotFound
from headwater.api.shared.ids import require_uuid
from headwater.api.shared.wire import EMPTY_STATE
from headwater.api.threads.access import ask_worker, owned_thread
from headwater.api.threads.schemas import (
    HistorySearch,
    StateUpdate,
    ThreadCreate,
    ThreadPatch,
    ThreadSearch,
)
from headwater.common.bus import Bus
from headwater.common.db import repository
from headwater.common.db.models import ThreadRow, utcnow
from headwater.common.ids import uuid7
from headwater.common.schemas import GraphRequest


async def search_threads(
    sessions: Sessions,
    auth: CarriesAuth,
    owner: str,
    data: ThreadSearch,
    *,
    count_only: bool = False,
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
        async with sessions() as session:
            return await repository.search_threads(
                session, **query, metadata=metadata, limit=limit, offset=offset
            )

    return await authorized_page(
        auth,
        "threads",
        value,
        data.metadata,
        search,
        limit=0 if count_only else data.limit,
        offset=data.offset,
        metadata_of=lambda row: row.metadata_,
    )


def _existing_thread(
    thread_id: str, thread: ThreadRow | None, owner: str, if_exists: str
) -> ThreadRow:
    """What a create answers for an id already taken (``None``: taken and gone meanwhile)."""
    if thread is not None and thread.owner != owner:
        raise NotFound(f"Thread with ID {thread_id} not found")
    if thread is not None and if_exists == "do_nothing":
        return thread
    raise Conflict(f"Thread {thread_id} already exists")


async def create_thread(
    sessions: Sessions, bus: Bus, auth: CarriesAuth, owner: str, data: ThreadCreate
) -> ThreadRow:
    """Create a thread. An id taken by the caller: 409, or that thread with
    ``if_exists="do_nothing"``; an id taken by another user: 404, as every other request
    about it answers. Concurrent creates of one id are settled by the database: one creates
    it, the others see it."""
    thread_id = require_uuid(data.thread_id, "thread") if data.thread_id else uuid7()
    value: dict[str, Any] = {
        "thread_id": thread_id,
        "metadata": dict(data.metadata or {}),
        "if_exists": data.if_exists,
    }
    await authorize(auth, "threads", "create", value)
    data.metadata = value["metadata"]
    async with sessions.begin() as session:
        existing = await session.get(ThreadRow, thread_id)
        if existing is not None:
            return _existing_thread(thread_id, existing, owner, data.if_exists)
        # A chosen id may have been a deleted thread's: its old events stay out of sight.
        after = await bus.last_event_seq() if data.thread_id else 0
        thread = repository.new_thread(thread_id, data.metadata or {}, owner, events_after=after)
        if data.ttl is not None:
            repository.set_thread_ttl(thread, data.ttl.ttl, data.ttl.strategy)
        stored, created = await repository.insert_thread(session, thread)
        if stored is None or not created:
            return _existing_thread(thread_id, stored, owner, data.if_exists)
    return stored


async def patch_thread(
    sessions: Sessions, auth: CarriesAuth, owner: str, thread_id: str, data: ThreadPatch
) -> ThreadRow:
    """Merge metadata; a ``ttl`` starts the thread's time to live again."""
    await owned_thread(sessions, auth, thread_id, owner, "update")
    async with sessions.begin() as session:
        thread = await session.get(ThreadRow, thread_id)
        if thread is None:
            raise NotFound(f"Thread with ID {thread_id} not found")
        thread.metadata_ = {**(thread.metadata_ or {}), **(data.metadata or {})}
        thread.updated_at = utcnow()
        if data.ttl is not None:
            repository.set_thread_ttl(thread, data.ttl.ttl, data.ttl.strategy)
    return thread


def _graph_of(thread: ThreadRow) -> str | None:
    graph_id = (thread.metadata_ or {}).get("graph_id")
    return str(graph_id) if graph_id else None


async def thread_state(
    bus: Bus,
    timeout_s: float,
    thread: ThreadRow,
    checkpoint_id: str | None,
    subgraphs: bool,
    checkpoint_ns: str = "",
) -> bytes:
    """The thread's state (at a checkpoint) as JSON; empty for a thread that never ran."""
    graph_id = _graph_of(thread)
    if not graph_id:
        return msgspec.json.encode(EMPTY_STATE)
    request = GraphRequest(
        op="state",
        graph_id=graph_id,
        thread_id=thread.thread_id,
        checkpoint_id=checkpoint_id,
        subgraphs=subgraphs,
        owner=thread.owner,
        checkpoint_ns=checkpoint_ns,
    )
    return await ask_worker(bus, request, timeout_s)


async def thread_history(
    bus: Bus, timeout_s: float, thread: ThreadRow, search: HistorySearch
) -> bytes:
    """Checkpoints of a thread, newest first, as JSON."""
    graph_id = _graph_of(thread)
    if not graph_id:
        return b"[]"
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
    return await ask_worker(bus, request, timeout_s)


async def update_state(
    sessions: Sessions, bus: Bus, timeout_s: float, thread: ThreadRow, data: StateUpdate
) -> bytes:
    """Write values into the thread's state as if ``as_node`` had returned them (409 while a
    run is in flight)."""
    thread_id = thread.thread_id
    graph_id = _graph_of(thread)
    if not graph_id:
        raise ApiError(
            f"Thread {thread_id} has no graph yet: run it once before updating its state"
        )
    async with sessions() as session:
        active = await repository.active_run_ids(session, thread_id)
    if active:
        raise Conflict(f"Thread {thread_id} has in-flight runs: {active}")
    checkpoint_id = data.checkpoint_id or (data.checkpoint or {}).get("checkpoint_id")
    request = GraphRequest(
        op="update_state",
        graph_id=graph_id,
        thread_id=thread_id,
        owner=thread.owner,
        values=data.values,
        as_node=data.as_node,
        checkpoint_id=checkpoint_id,
        checkpoint_ns=(data.checkpoint or {}).get("checkpoint_ns", ""),
    )
    return await ask_worker(bus, request, timeout_s)

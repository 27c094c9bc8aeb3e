"""``/threads``: create, get, patch, delete, search, count, state and history (copy and prune:
``maintenance_controller.py``; the stream of every run: ``stream.py``).

Handlers declare what they use (``sessions``, ``bus``, ``settings``, ``auth``; delete, which
stops the thread's runs, a ``runs`` service); the work is :mod:`headwater.api.threads.service`'s.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from headwater.api.auth.authorization import AuthHandlers
from headwater.api.runs.service import RunService
from headwater.api.shared.context import Sessions
from headwater.api.shared.paging import page
from headwater.api.shared.search_shapes import shaped
from headwater.api.shared.wire import thread_json, thread_ttl_json
from headwater.api.threads import service
from headwater.api.threads.access import owned_thread
from headwater.api.threads.maintenance import erase_threads
from headwater.api.threads.schemas import (
    CheckpointQuery,
    HistorySearch,
    StateUpdate,
    ThreadCreate,
    ThreadPatch,
    ThreadSearch,
)
from headwater.common.bus import Bus
from headwater.common.settings import Settings


def _json(body: bytes) -> Response[bytes]:
    return Response(body, media_type="application/json")


class ThreadsController(Controller):
    """Threads and their state."""

    path = "/threads"
    tags = ["Threads"]

    @post("/", status_code=200)
    async def create_thread(
        self,
        sessions: NamedDependency[Sessions],
        bus: NamedDependency[Bus],
        auth: NamedDependency[AuthHandlers],
        owner: NamedDependency[str],
        data: JSONBody[ThreadCreate],
    ) -> dict[str, Any]:
        """Create a thread (200, as langgraph-api answers).

        An id taken by the caller: 409, or that thread with ``if_exists="do_nothing"``; an id
        taken by another user: 404, as every other request about it answers.
        """
        return thread_json(await service.create_thread(sessions, bus, auth, owner, data))

    @post("/search", status_code=200)
    async def search_threads(
        self,
        sessions: NamedDependency[Sessions],
        auth: NamedDependency[AuthHandlers],
        owner: NamedDependency[str],
        data: JSONBody[ThreadSearch],
    ) -> Response[list[dict[str, Any]]]:
        """Search by metadata, values, status and ids; newest first by default; ``select``
        fields, ``extract`` paths (``{"last": "values.messages[-1]"}``)."""
        rows, total = await service.search_threads(sessions, auth, owner, data)
        found = shaped([thread_json(r) for r in rows], data.select, data.extract)
        return page(found, data.offset, total)

    @post("/count", status_code=200)
    async def count_threads(
        self,
        sessions: NamedDependency[Sessions],
        auth: NamedDependency[AuthHandlers],
        owner: NamedDependency[str],
        data: JSONBody[ThreadSearch],
    ) -> int:
        """How many threads match."""
        _, total = await service.search_threads(sessions, auth, owner, data, count_only=True)
        return total

    @get("/{thread_id:str}")
    async def get_thread(
        self,
        sessions: NamedDependency[Sessions],
        auth: NamedDependency[AuthHandlers],
        owner: NamedDependency[str],
        thread_id: FromPath[str],
        include: FromQuery[list[str] | None] = None,
    ) -> dict[str, Any]:
        """One thread (``?include=ttl``: with its time to live)."""
        thread = await owned_thread(sessions, auth, thread_id, owner)
        body = thread_json(thread)
        if include and "ttl" in include:
            body["ttl"] = thread_ttl_json(thread)
        return body

    @patch("/{thread_id:str}")
    async def patch_thread(
        self,
        sessions: NamedDependency[Sessions],
        auth: NamedDependency[AuthHandlers],
        owner: NamedDependency[str],
        thread_id: FromPath[str],
        data: JSONBody[ThreadPatch],
    ) -> dict[str, Any]:
        """Merge metadata; a ``ttl`` starts the thread's time to live again."""
        return thread_json(await service.patch_thread(sessions, auth, owner, thread_id, data))

    @delete("/{thread_id:str}", status_code=204)
    async def delete_thread(
        self,
        runs: NamedDependency[RunService],
        owner: NamedDependency[str],
        thread_id: FromPath[str],
    ) -> None:
        """Delete a thread, its runs (stopping any in flight) and its checkpoints."""
        thread = await owned_thread(runs.sessions, runs.auth, thread_id, owner, "delete")
        await erase_threads(runs, [thread], owner)

    @get("/{thread_id:str}/state")
    async def get_state(
        self,
        sessions: NamedDependency[Sessions],
        bus: NamedDependency[Bus],
        settings: NamedDependency[Settings],
        auth: NamedDependency[AuthHandlers],
        owner: NamedDependency[str],
        thread_id: FromPath[str],
        subgraphs: FromQuery[bool] = False,
    ) -> Response[bytes]:
        """The thread's current state."""
        thread = await owned_thread(sessions, auth, thread_id, owner)
        return _json(
            await service.thread_state(bus, settings.request_timeout_s, thread, None, subgraphs)
        )

    @get("/{thread_id:str}/history")
    async def get_history(
        self,
        sessions: NamedDependency[Sessions],
        bus: NamedDependency[Bus],
        settings: NamedDependency[Settings],
        auth: NamedDependency[AuthHandlers],
        owner: NamedDependency[str],
        thread_id: FromPath[str],
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 10,
        before: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        """Checkpoints of the thread, newest first."""
        thread = await owned_thread(sessions, auth, thread_id, owner)
        search = HistorySearch(limit=limit, before=before)
        return _json(await service.thread_history(bus, settings.request_timeout_s, thread, search))

    @post("/{thread_id:str}/history", status_code=200)
    async def search_history(
        self,
        sessions: NamedDependency[Sessions],
        bus: NamedDependency[Bus],
        settings: NamedDependency[Settings],
        auth: NamedDependency[AuthHandlers],
        owner: NamedDependency[str],
        thread_id: FromPath[str],
        data: JSONBody[HistorySearch],
    ) -> Response[bytes]:
        """Checkpoints of the thread, filtered; newest first."""
        thread = await owned_thread(sessions, auth, thread_id, owner)
        return _json(await service.thread_history(bus, settings.request_timeout_s, thread, data))

    @post("/{thread_id:str}/state", status_code=200)
    async def update_state(
        self,
        sessions: NamedDependency[Sessions],
        bus: NamedDependency[Bus],
        settings: NamedDependency[Settings],
        auth: NamedDependency[AuthHandlers],
        owner: NamedDependency[str],
        thread_id: FromPath[str],
        data: JSONBody[StateUpdate],
    ) -> Response[bytes]:
        """Write values into the thread's state as if ``as_node`` had returned them."""
        thread = await owned_thread(sessions, auth, thread_id, owner, "update")
        return _json(
            await service.update_state(sessions, bus, settings.request_timeout_s, thread, data)
        )

    @post("/{thread_id:str}/state/checkpoint", status_code=200)
    async def state_at_checkpoint(
        self,
        sessions: NamedDependency[Sessions],
        bus: NamedDependency[Bus],
        settings: NamedDependency[Settings],
        auth: NamedDependency[AuthHandlers],
        owner: NamedDependency[str],
        thread_id: FromPath[str],
        data: JSONBody[CheckpointQuery],
    ) -> Response[bytes]:
        """The thread's state at ``checkpoint``."""
        thread = await owned_thread(sessions, auth, thread_id, owner)
        checkpoint = data.checkpoint
        body = await service.thread_state(
            bus,
            settings.request_timeout_s,
            thread,
            checkpoint.get("checkpoint_id"),
            data.subgraphs,
            checkpoint.get("checkpoint_ns", ""),
        )
        return _json(body)

    @get("/{thread_id:str}/state/{checkpoint_id:str}")
    async def get_state_at(
        self,
        sessions: NamedDependency[Sessions],
        bus: NamedDependency[Bus],
        settings: NamedDependency[Settings],
        auth: NamedDependency[AuthHandlers],
        owner: NamedDependency[str],
        thread_id: FromPath[str],
        checkpoint_id: FromPath[str],
        subgraphs: FromQuery[bool] = False,
    ) -> Response[bytes]:
        """The thread's state at a checkpoint."""
        thread = await owned_thread(sessions, auth, thread_id, owner)
        return _json(
            await service.thread_state(
                bus, settings.request_timeout_s, thread, checkpoint_id, subgraphs
            )
        )

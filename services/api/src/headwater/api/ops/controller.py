"""The console's operational endpoints: queue, workers, runs across threads, live feed, inspector.

Every one sits behind the API's authentication, and a caller sees only their own runs (the
same ownership and custom-auth filters as the LangGraph endpoints).
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.api.auth.authorization import AuthHandlers, authorize
from headwater.api.ops import service
from headwater.api.ops.inspect import inspect_run, owned_run
from headwater.api.ops.live import live_stream
from headwater.api.ops.queue import queue_view
from headwater.api.ops.schemas import (
    LiveSnapshot,
    Queue,
    RunInspection,
    RunSearch,
    RunView,
    Worker,
)
from headwater.api.ops.workers import worker_views
from headwater.common.bus import Bus
from headwater.common.settings import Settings

SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


Sessions = async_sessionmaker[AsyncSession]


class OpsController(Controller):
    """``/queue``, ``/workers``, ``/runs/search``, ``/runs/live``, ``/runs/{id}[/inspect]``."""

    path = "/"
    tags = ["Operations"]

    @get("/queue")
    async def get_queue(self, bus: NamedDependency[Bus]) -> Queue:
        """The run queue: waiting, unacknowledged and redelivered requests (JetStream's
        consumer in cluster mode, the in-process queue in dev)."""
        return await queue_view(bus)

    @get("/workers")
    async def list_workers(
        self, sessions: NamedDependency[Sessions], settings: NamedDependency[Settings]
    ) -> list[Worker]:
        """Workers by their heartbeats, newest first; a worker whose heartbeat is late
        is ``stale``, one long silent is gone."""
        return await worker_views(sessions, settings.worker_heartbeat_s)

    @post("/runs/search", status_code=200)
    async def search_runs(
        self,
        sessions: NamedDependency[Sessions],
        auth: NamedDependency[AuthHandlers],
        owner: NamedDependency[str],
        data: JSONBody[RunSearch],
    ) -> list[RunView]:
        """The caller's runs across threads, newest first: by status (one or a list),
        assistant, thread and metadata (containment)."""
        return await service.search_runs(sessions, auth, owner, data)

    @get("/runs/{run_id:str}")
    async def get_run(
        self,
        sessions: NamedDependency[Sessions],
        auth: NamedDependency[AuthHandlers],
        owner: NamedDependency[str],
        run_id: FromPath[str],
    ) -> RunView:
        """One of the caller's runs, on whatever thread, with its worker and times."""
        return await service.run_view_of(sessions, await owned_run(sessions, auth, run_id, owner))

    @get("/runs/{run_id:str}/inspect")
    async def inspect(
        self,
        bus: NamedDependency[Bus],
        sessions: NamedDependency[Sessions],
        settings: NamedDependency[Settings],
        auth: NamedDependency[AuthHandlers],
        owner: NamedDependency[str],
        run_id: FromPath[str],
    ) -> RunInspection:
        """The run inspector: the run's stream parts with their times, its nodes, its LLM
        calls with tokens and time to first token, the checkpoints it wrote with what each
        changed, its input, config and metadata, and a link to its trace."""
        run = await owned_run(sessions, auth, run_id, owner)
        return await inspect_run(bus, sessions, settings, run)

    @get(
        "/runs/live",
        responses={
            200: ResponseSpec(
                data_container=LiveSnapshot,
                media_type="text/event-stream",
                description="SSE: `snapshot` (this shape), then `run` (RunView), `queue` "
                "(Queue) and `workers` ([Worker]) events, and `: heartbeat` comments",
            )
        },
    )
    async def live(
        self,
        bus: NamedDependency[Bus],
        sessions: NamedDependency[Sessions],
        settings: NamedDependency[Settings],
        auth: NamedDependency[AuthHandlers],
        owner: NamedDependency[str],
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
    ) -> Stream:
        """Server-Sent Events: ``snapshot`` (recent runs, the queue, the workers), then
        ``run`` whenever one of the caller's runs changes, ``queue`` every second,
        ``workers`` every two; ``: heartbeat`` comments in between."""
        rule = await authorize(auth, "threads", "search", {"metadata": {}, "limit": limit})
        body = await live_stream(bus, sessions, settings, owner, rule, limit)
        return Stream(body, media_type="text/event-stream", headers=SSE_HEADERS)

"""The console's operational endpoints: queue, workers, runs across threads, live feed, inspector.

Every one sits behind the API's authentication, and a caller sees only their own runs (the
same ownership and custom-auth filters as the LangGraph endpoints).
"""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from litestar.response import Stream

from headwater.api.auth.authorization import UNPAGED, authorize, only_matching, search_rule
from headwater.api.ops import queries
from headwater.api.ops.inspect import inspect_run, owned_run
from headwater.api.ops.live import Listener, LiveFeed, live_body, snapshot_frame
from headwater.api.ops.queue import queue_view
from headwater.api.ops.run_view import run_views
from headwater.api.ops.schemas import (
    LiveSnapshot,
    Queue,
    RunInspection,
    RunSearch,
    RunView,
    Worker,
)
from headwater.api.ops.workers import worker_views
from headwater.api.shared.context import ApiContext
from headwater.common.db import repository
from headwater.common.db.models import RunRow

SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


class OpsController(Controller):
    """``/queue``, ``/workers``, ``/runs/search``, ``/runs/live``, ``/runs/{id}[/inspect]``."""

    path = "/"
    tags = ["Operations"]

    @get("/queue")
    async def get_queue(self, ctx: ApiContext) -> Queue:
        """The run queue: waiting, unacknowledged and redelivered requests (JetStream's
        consumer in cluster mode, the in-process queue in dev)."""
        return await queue_view(ctx.bus)

    @get("/workers")
    async def list_workers(self, ctx: ApiContext) -> list[Worker]:
        """Workers by their heartbeats, newest first; a worker whose heartbeat is late
        is ``stale``, one long silent is gone."""
        return await worker_views(ctx)

    @post("/runs/search", status_code=200)
    async def search_runs(self, ctx: ApiContext, owner: str, data: RunSearch) -> list[RunView]:
        """The caller's runs across threads, newest first: by status (one or a list),
        assistant, thread and metadata (containment)."""
        wanted, residual = await search_rule(
            ctx, "threads", {"metadata": dict(data.metadata or {})}, data.metadata
        )
        async with ctx.sessions() as session:
            rows = await repository.search_runs(
                session,
                owner,
                status=data.statuses,
                assistant_id=data.assistant_id,
                thread_id=data.thread_id,
                metadata=wanted,
                limit=data.limit if residual is None else UNPAGED,
                offset=data.offset if residual is None else 0,
            )
            if residual is not None:
                rows = only_matching(rows, residual, lambda row: row.metadata_)
                rows = rows[data.offset : data.offset + data.limit]
            return await run_views(session, rows)

    @get("/runs/{run_id:str}")
    async def get_run(self, ctx: ApiContext, owner: str, run_id: str) -> RunView:
        """One of the caller's runs, on whatever thread, with its worker and times."""
        run = await owned_run(ctx, run_id, owner)
        async with ctx.sessions() as session:
            (view,) = await run_views(session, [run])
        return view

    @get("/runs/{run_id:str}/inspect")
    async def inspect(self, ctx: ApiContext, owner: str, run_id: str) -> RunInspection:
        """The run inspector: the run's stream parts with their times, its nodes, its LLM
        calls with tokens and time to first token, the checkpoints it wrote with what each
        changed, its input, config and metadata, and a link to its trace."""
        return await inspect_run(ctx, await owned_run(ctx, run_id, owner))

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
        ctx: ApiContext,
        owner: str,
        limit: int = Parameter(default=200, ge=1, le=1000),
    ) -> Stream:
        """Server-Sent Events: ``snapshot`` (recent runs, the queue, the workers), then
        ``run`` whenever one of the caller's runs changes, ``queue`` every second,
        ``workers`` every two; ``: heartbeat`` comments in between."""
        rule = await authorize(ctx, "threads", "search", {"metadata": {}, "limit": limit})
        listener = Listener(owner, rule)
        feed = LiveFeed.of(ctx, lambda: worker_views(ctx))

        async def runs() -> list[RunRow]:
            async with ctx.sessions() as session:
                return list(await queries.recent_runs(session, owner, limit))

        feed.subscribe(listener)  # before the snapshot: a change made meanwhile is not lost
        try:  # a snapshot that fails is the request's error (a 503 when NATS is down)
            snapshot = await snapshot_frame(ctx, listener, runs, lambda: worker_views(ctx))
        except BaseException:
            feed.unsubscribe(listener)
            raise
        body = live_body(feed, listener, snapshot, ctx.settings.sse_keepalive_s)
        return Stream(body, media_type="text/event-stream", headers=SSE_HEADERS)

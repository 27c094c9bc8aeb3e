"""Stateless runs (``/runs…``): each on a new thread, deleted afterwards unless kept."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.response import Stream
from sqlalchemy import select

from headwater.api.runs.admission import RunAdmission
from headwater.api.runs.controller import start_run, stream_response, wait_response
from headwater.api.shared.context import ApiContext
from headwater.api.shared.errors import Unprocessable
from headwater.api.shared.schemas import CancelMany, RunCreate
from headwater.api.shared.wire import run_json
from headwater.common.db.models import RunRow


class StatelessRunsController(Controller):
    """``/runs…``: runs on a new thread that is deleted afterwards (``on_completion``)."""

    path = "/runs"
    tags = ["Stateless Runs"]

    @post("/batch", status_code=200)
    async def batch(
        self, ctx: ApiContext, owner: str, data: list[RunCreate], request: Request[Any, Any, Any]
    ) -> list[dict[str, Any]]:
        """Create several background runs, each on a new thread."""
        if not data:
            raise Unprocessable("the batch must hold at least one run")
        admission = RunAdmission(ctx)
        created = []
        for body in data:
            run, run_request = await admission.create(
                body, thread_id=None, owner=owner, headers=request.headers
            )
            await admission.submit(run, run_request)
            created.append(run_json(run))
        return created

    @post("/cancel", status_code=204)
    async def cancel_many(
        self, ctx: ApiContext, owner: str, data: CancelMany, action: str = "interrupt"
    ) -> None:
        """Cancel runs by id on a thread, or every pending and/or running run of the caller."""
        if (data.run_ids is None) == (data.status is None):
            raise Unprocessable("give either thread_id with run_ids, or status")
        async with ctx.sessions() as session:
            query = select(RunRow).where(RunRow.owner == owner)
            if data.run_ids is not None:
                if not data.thread_id:
                    raise Unprocessable("run_ids needs thread_id")
                query = query.where(
                    RunRow.thread_id == data.thread_id, RunRow.run_id.in_(data.run_ids)
                )
            else:
                wanted = ["pending", "running"] if data.status == "all" else [data.status]
                query = query.where(RunRow.status.in_(wanted))
            runs = (await session.scalars(query)).all()
        admission = RunAdmission(ctx)
        for run in runs:
            await admission.cancel(run, action)

    @post("/", status_code=200)
    async def create(
        self, ctx: ApiContext, owner: str, data: RunCreate, request: Request[Any, Any, Any]
    ) -> Response[dict[str, Any]]:
        """Create a background run on a new thread."""
        admission = RunAdmission(ctx)
        run, run_request = await admission.create(
            data, thread_id=None, owner=owner, headers=request.headers
        )
        await admission.submit(run, run_request)
        return Response(run_json(run), headers={"Content-Location": f"/runs/{run.run_id}"})

    @post("/stream", status_code=200)
    async def stream(
        self, ctx: ApiContext, owner: str, data: RunCreate, request: Request[Any, Any, Any]
    ) -> Stream:
        """Create a run on a new thread and stream it."""
        run, subscription = await start_run(ctx, data, None, owner, request)
        return stream_response(
            ctx,
            run,
            subscription,
            cancel_on_disconnect=data.on_disconnect == "cancel",
            location=f"/runs/{run.run_id}/stream",
            content_location=f"/runs/{run.run_id}",
        )

    @post("/wait", status_code=200)
    async def wait(
        self, ctx: ApiContext, owner: str, data: RunCreate, request: Request[Any, Any, Any]
    ) -> Stream:
        """Create a run on a new thread and answer its final values."""
        run, subscription = await start_run(ctx, data, None, owner, request)
        base = f"/threads/{run.thread_id}/runs/{run.run_id}"
        return wait_response(
            ctx,
            run,
            subscription,
            cancel_on_disconnect=data.on_disconnect == "cancel",
            location=f"{base}/join",
            content_location=base,
        )

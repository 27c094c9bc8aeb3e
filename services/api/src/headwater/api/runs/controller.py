"""Thread runs and stateless runs: create, stream, wait, join, get, list, cancel, delete."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import Parameter
from litestar.response import Stream
from sqlalchemy import update

from headwater.api.auth.authorization import require_visible
from headwater.api.runs.admission import RunAdmission
from headwater.api.runs.relay import final_result, mode_filter, sse_events
from headwater.api.shared.context import ApiContext
from headwater.api.shared.deps import require_uuid
from headwater.api.shared.errors import NotFound, Unprocessable
from headwater.api.shared.schemas import RunCreate
from headwater.api.shared.wire import run_json
from headwater.api.streaming import RunStatusProbe, RunStatusWatch
from headwater.common.bus import EventSubscription
from headwater.common.codec import dumps
from headwater.common.db import repository
from headwater.common.db.models import RunRow, ThreadRow, utcnow
from headwater.common.subjects import END_EVENT

SSE_MEDIA_TYPE = "text/event-stream"  # Litestar appends "; charset=utf-8"
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
STREAM_ID_PATTERN = r"^(\d+(-(\d+|\*))?|-)$"
RUN_STREAM_ID_PATTERN = r"^(\d+(-(\d+|\*))?|-|-1)$"
"""A run's join stream also takes ``-1`` (the whole run), which JS ``useStream`` sends."""
NO_RUN_TO_CANCEL = (
    "No matching runs to cancel. Please verify the thread ID and run IDs are correct, "
    "and the runs haven't been deleted or completed."
)
CANCEL_SETTLE_S = 2.0
"""How long a cancel waits for the worker to stop the run before answering."""


def status_check(ctx: ApiContext, run_id: str) -> RunStatusProbe:
    """The run's status from the watch every stream of this process shares (no query)."""
    settings = ctx.settings
    watch = RunStatusWatch.of(ctx.sessions, settings.status_check_s, settings.stream_give_up_s)
    return RunStatusProbe(watch, run_id, ctx.bus.healthy)


def _values_fallback(
    ctx: ApiContext, thread_id: str, run_id: str
) -> Callable[[], Awaitable[bytes]]:
    async def fallback() -> bytes:
        async with ctx.sessions() as session:
            thread = await session.get(ThreadRow, thread_id)
        if thread is None:
            return b"{}"
        if thread.status == "error" and thread.error:
            return dumps({"__error__": thread.error})
        return dumps(thread.values if thread.values is not None else {})

    return fallback


def _canceller(ctx: ApiContext, run: RunRow) -> Callable[[], Awaitable[None]]:
    async def cancel() -> None:
        await RunAdmission(ctx).cancel(run, "interrupt")

    return cancel


async def _get_run(
    ctx: ApiContext, thread_id: str, run_id: str, owner: str, action: str = "read"
) -> RunRow:
    require_uuid(thread_id, "thread")
    require_uuid(run_id, "run")
    async with ctx.sessions() as session:
        run = await session.get(RunRow, run_id)
    detail = f"Run {run_id} not found"
    if run is None or run.thread_id != thread_id or run.owner != owner:
        raise NotFound(detail)
    value = {"thread_id": thread_id, "run_id": run_id, "metadata": run.metadata_}
    await require_visible(ctx, "threads", action, value, run.metadata_, detail)
    return run


def query_modes(raw: list[str] | None) -> list[str] | None:
    """``?stream_mode=a&stream_mode=b``, ``?stream_mode=a,b`` or ``?stream_mode=["a","b"]``."""
    if not raw:
        return None
    modes: list[str] = []
    for value in raw:
        if not value:  # clients send ``stream_mode=`` for "no filter"
            continue
        if value.startswith("["):
            try:
                decoded = msgspec.json.decode(value)
            except msgspec.DecodeError as exc:
                raise Unprocessable(f"Invalid stream_mode: {value}") from exc
            if not isinstance(decoded, list) or not all(isinstance(v, str) for v in decoded):
                raise Unprocessable(f"Invalid stream_mode: {value}")
            modes.extend(decoded)
        else:
            modes.extend(part.strip() for part in value.split(",") if part.strip())
    return modes or None


def after_seq_of(last_event_id: str | None) -> int:
    """The sequence a ``Last-Event-ID`` names (``-`` or ``-1``: before everything)."""
    if not last_event_id or last_event_id in ("-", "-1"):
        return 0
    head = last_event_id.split("-", 1)[0]
    if not head.isascii() or not head.isdigit() or len(head) > 19 or int(head) >= 2**63:
        raise Unprocessable("Invalid Last-Event-ID: expected a number below 2**63")
    return int(head)


async def start_run(
    ctx: ApiContext,
    body: RunCreate,
    thread_id: str | None,
    owner: str,
    request: Request[Any, Any, Any],
) -> tuple[RunRow, EventSubscription]:
    return await RunAdmission(ctx).start(
        body, thread_id=thread_id, owner=owner, headers=request.headers
    )


def stream_response(
    ctx: ApiContext,
    run: RunRow,
    subscription: Any,
    *,
    cancel_on_disconnect: bool,
    location: str,
    content_location: str,
    modes: list[str] | None = None,
) -> Stream:
    body = sse_events(
        subscription,
        status_check(ctx, run.run_id),
        on_abandon=_canceller(ctx, run) if cancel_on_disconnect else None,
        keep=mode_filter(modes),
    )
    headers = {**SSE_HEADERS, "Location": location, "Content-Location": content_location}
    return Stream(body, media_type=SSE_MEDIA_TYPE, headers=headers)


def wait_response(
    ctx: ApiContext,
    run: RunRow,
    subscription: Any,
    *,
    cancel_on_disconnect: bool,
    location: str,
    content_location: str,
) -> Stream:
    body = final_result(
        subscription,
        status_check(ctx, run.run_id),
        _values_fallback(ctx, run.thread_id, run.run_id),
        on_abandon=_canceller(ctx, run) if cancel_on_disconnect else None,
    )
    headers = {"Location": location, "Content-Location": content_location}
    return Stream(body, media_type="application/json", headers=headers)


class ThreadRunsController(Controller):
    """``/threads/{thread_id}/runs…``."""

    path = "/threads/{thread_id:str}/runs"
    tags = ["Thread Runs"]

    @post("/", status_code=200)
    async def create_run(
        self,
        ctx: ApiContext,
        owner: str,
        thread_id: str,
        data: RunCreate,
        request: Request[Any, Any, Any],
    ) -> Response[dict[str, Any]]:
        """Create a background run."""
        admission = RunAdmission(ctx)
        run, run_request = await admission.create(
            data, thread_id=thread_id, owner=owner, headers=request.headers
        )
        await admission.submit(run, run_request)
        return Response(
            run_json(run),
            headers={"Content-Location": f"/threads/{run.thread_id}/runs/{run.run_id}"},
        )

    @post("/stream", status_code=200)
    async def stream_run(
        self,
        ctx: ApiContext,
        owner: str,
        thread_id: str,
        data: RunCreate,
        request: Request[Any, Any, Any],
    ) -> Stream:
        """Create a run and stream its events as SSE."""
        run, subscription = await start_run(ctx, data, thread_id, owner, request)
        base = f"/threads/{run.thread_id}/runs/{run.run_id}"
        return stream_response(
            ctx,
            run,
            subscription,
            cancel_on_disconnect=data.on_disconnect == "cancel",
            location=f"{base}/stream",
            content_location=base,
        )

    @post("/wait", status_code=200)
    async def wait_run(
        self,
        ctx: ApiContext,
        owner: str,
        thread_id: str,
        data: RunCreate,
        request: Request[Any, Any, Any],
    ) -> Stream:
        """Create a run and answer its final values."""
        run, subscription = await start_run(ctx, data, thread_id, owner, request)
        base = f"/threads/{run.thread_id}/runs/{run.run_id}"
        return wait_response(
            ctx,
            run,
            subscription,
            cancel_on_disconnect=data.on_disconnect == "cancel",
            location=f"{base}/join",
            content_location=base,
        )

    @get("/")
    async def list_runs(
        self,
        ctx: ApiContext,
        owner: str,
        thread_id: str,
        limit: int = Parameter(default=10, ge=0, le=1000),
        offset: int = Parameter(default=0, ge=0, le=2**31 - 1),
        status: str | None = None,
    ) -> list[dict[str, Any]]:
        """A thread's runs, newest first."""
        require_uuid(thread_id, "thread")
        async with ctx.sessions() as session:
            thread = await session.get(ThreadRow, thread_id)
            if thread is None or thread.owner != owner:
                raise NotFound(f"Thread with ID {thread_id} not found")
            rows = await repository.list_runs(
                session, thread_id, limit=limit, offset=offset, status=status
            )
        return [run_json(r) for r in rows]

    @get("/{run_id:str}")
    async def get_run(
        self, ctx: ApiContext, owner: str, thread_id: str, run_id: str
    ) -> dict[str, Any]:
        """One run (the sdk polls this to decide whether to reconnect)."""
        return run_json(await _get_run(ctx, thread_id, run_id, owner))

    @delete("/{run_id:str}", status_code=204)
    async def delete_run(self, ctx: ApiContext, owner: str, thread_id: str, run_id: str) -> None:
        """Delete a finished run."""
        run = await _get_run(ctx, thread_id, run_id, owner, "delete")
        async with ctx.sessions.begin() as session:
            row = await session.get(RunRow, run.run_id)
            if row is not None:
                await session.delete(row)

    @get("/{run_id:str}/join")
    async def join_run(
        self,
        ctx: ApiContext,
        owner: str,
        thread_id: str,
        run_id: str,
        cancel_on_disconnect: bool = False,
    ) -> Stream:
        """Wait for a run and answer its final values."""
        run = await _get_run(ctx, thread_id, run_id, owner)
        subscription = await ctx.bus.subscribe_events(run.thread_id, run.run_id)
        base = f"/threads/{thread_id}/runs/{run_id}"
        return wait_response(
            ctx,
            run,
            subscription,
            cancel_on_disconnect=cancel_on_disconnect,
            location=f"{base}/join",
            content_location=base,
        )

    @get("/{run_id:str}/stream")
    async def join_stream(
        self,
        ctx: ApiContext,
        owner: str,
        thread_id: str,
        run_id: str,
        cancel_on_disconnect: bool = False,
        last_event_id: str | None = Parameter(
            header="Last-Event-ID", default=None, pattern=RUN_STREAM_ID_PATTERN
        ),
        stream_mode: list[str] | None = None,
    ) -> Stream:
        """Stream a run's events: all of them, or those after ``Last-Event-ID``.

        ``stream_mode`` (repeated, or one JSON array) keeps only those modes.
        """
        run = await _get_run(ctx, thread_id, run_id, owner)
        modes = query_modes(stream_mode)
        subscription = await ctx.bus.subscribe_events(
            run.thread_id, run.run_id, after_seq=after_seq_of(last_event_id)
        )
        base = f"/threads/{thread_id}/runs/{run_id}"
        return stream_response(
            ctx,
            run,
            subscription,
            cancel_on_disconnect=cancel_on_disconnect,
            location=f"{base}/stream",
            content_location=base,
            modes=modes,
        )

    @post("/{run_id:str}/cancel", status_code=202)
    async def cancel_run(
        self,
        ctx: ApiContext,
        owner: str,
        thread_id: str,
        run_id: str,
        wait: bool = False,
        action: str = "interrupt",
    ) -> Response[Any] | Stream:
        """Cancel a pending or running run: 202 once it reads ``interrupted`` (or, rolled
        back, is gone); ``wait=1``: 200 once it has stopped, with langgraph-api's ``{}``."""
        run = await _get_run(ctx, thread_id, run_id, owner, "update")
        # Only what the run publishes from now on matters: its end.
        after = await ctx.bus.last_event_seq()
        subscription = await ctx.bus.subscribe_events(run.thread_id, run.run_id, after_seq=after)
        try:
            if not await RunAdmission(ctx).cancel(run, action):
                raise NotFound(NO_RUN_TO_CANCEL)
            if not wait:
                await _settle(ctx, run, subscription, action)
                return Response(b"", status_code=202)
        except BaseException:
            await subscription.close()
            raise
        base = f"/threads/{thread_id}/runs/{run_id}"
        result = final_result(subscription, status_check(ctx, run.run_id), _no_values)
        return Stream(
            _stopped_body(result),
            status_code=200,
            media_type="application/json",
            headers={"Location": f"{base}/join", "Content-Location": base},
        )


async def _settle(
    ctx: ApiContext, run: RunRow, subscription: EventSubscription, action: str
) -> None:
    """Give the worker a moment to stop the run and record it (then the run and its thread
    read as they settled). A run still going after that reads ``interrupted`` at once, as in
    langgraph-api; its worker records the same when it stops."""
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CANCEL_SETTLE_S
        while (left := deadline - loop.time()) > 0:
            batch = await subscription.next_batch(left)
            if any(item.event == END_EVENT for item in batch):
                return
    finally:
        await subscription.close()
    if action != "rollback":
        async with ctx.sessions.begin() as session:
            await session.execute(
                update(RunRow)
                .where(RunRow.run_id == run.run_id, RunRow.status == "running")
                .values(status="interrupted", updated_at=utcnow())
            )


async def _no_values() -> bytes:
    return b"{}"


async def _stopped_body(result: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``cancel?wait=1``: keep-alives until the run has stopped, then ``{}``: langgraph-api
    answers the values the run streamed after the cancel, and a stopped run streams none."""
    try:
        async for chunk in result:
            yield chunk if chunk == b"\n" else b"{}"
    finally:
        if isinstance(result, AsyncGenerator):
            await result.aclose()

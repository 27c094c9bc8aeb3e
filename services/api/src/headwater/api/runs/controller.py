"""``/threads/{thread_id}/runs…``: create, stream, wait, join, get, list, cancel, delete.

The answers are built in :mod:`headwater.api.runs.responses`, shared with stateless runs;
the work is admission's and :mod:`headwater.api.runs.service`'s.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.response import Stream

from headwater.api.runs import responses
from headwater.api.runs.service import RunService
from headwater.api.shared.schemas import RunCreate
from headwater.api.shared.wire import run_json


class ThreadRunsController(Controller):
    """``/threads/{thread_id}/runs…``."""

    path = "/threads/{thread_id:str}/runs"
    tags = ["Thread Runs"]

    @post("/", status_code=200)
    async def create_run(
        self,
        runs: NamedDependency[RunService],
        owner: NamedDependency[str],
        thread_id: FromPath[str],
        data: JSONBody[RunCreate],
        request: Request[Any, Any, Any],
    ) -> Response[dict[str, Any]]:
        """Create a background run."""
        return await responses.create_run(runs, data, thread_id, owner, request)

    @post("/stream", status_code=200)
    async def stream_run(
        self,
        runs: NamedDependency[RunService],
        owner: NamedDependency[str],
        thread_id: FromPath[str],
        data: JSONBody[RunCreate],
        request: Request[Any, Any, Any],
    ) -> Stream:
        """Create a run and stream its events as SSE."""
        return await responses.create_and_stream(runs, data, thread_id, owner, request)

    @post("/wait", status_code=200)
    async def wait_run(
        self,
        runs: NamedDependency[RunService],
        owner: NamedDependency[str],
        thread_id: FromPath[str],
        data: JSONBody[RunCreate],
        request: Request[Any, Any, Any],
    ) -> Stream:
        """Create a run and answer its final values."""
        return await responses.create_and_wait(runs, data, thread_id, owner, request)

    @get("/")
    async def list_runs(
        self,
        runs: NamedDependency[RunService],
        owner: NamedDependency[str],
        thread_id: FromPath[str],
        limit: Annotated[int, QueryParameter(ge=0, le=1000)] = 10,
        offset: Annotated[int, QueryParameter(ge=0, le=2**31 - 1)] = 0,
        status: FromQuery[str | None] = None,
    ) -> list[dict[str, Any]]:
        """A thread's runs, newest first."""
        rows = await runs.list_runs(thread_id, owner, limit, offset, status)
        return [run_json(r) for r in rows]

    @get("/{run_id:str}")
    async def get_run(
        self,
        runs: NamedDependency[RunService],
        owner: NamedDependency[str],
        thread_id: FromPath[str],
        run_id: FromPath[str],
    ) -> dict[str, Any]:
        """One run (the sdk polls this to decide whether to reconnect)."""
        return run_json(await runs.owned_run(thread_id, run_id, owner))

    @delete("/{run_id:str}", status_code=204)
    async def delete_run(
        self,
        runs: NamedDependency[RunService],
        owner: NamedDependency[str],
        thread_id: FromPath[str],
        run_id: FromPath[str],
    ) -> None:
        """Delete a finished run."""
        await runs.delete_run(thread_id, run_id, owner)

    @get("/{run_id:str}/join")
    async def join_run(
        self,
        runs: NamedDependency[RunService],
        owner: NamedDependency[str],
        thread_id: FromPath[str],
        run_id: FromPath[str],
        cancel_on_disconnect: FromQuery[bool] = False,
    ) -> Stream:
        """Wait for a run and answer its final values."""
        run = await runs.owned_run(thread_id, run_id, owner)
        subscription = await runs.bus.subscribe_events(run.thread_id, run.run_id)
        return responses.wait_response(
            runs, run, subscription, cancel_on_disconnect=cancel_on_disconnect
        )

    @get("/{run_id:str}/stream")
    async def join_stream(
        self,
        runs: NamedDependency[RunService],
        owner: NamedDependency[str],
        thread_id: FromPath[str],
        run_id: FromPath[str],
        cancel_on_disconnect: FromQuery[bool] = False,
        last_event_id: Annotated[
            str | None,
            HeaderParameter(name="Last-Event-ID", pattern=responses.RUN_STREAM_ID_PATTERN),
        ] = None,
        stream_mode: FromQuery[list[str] | None] = None,
    ) -> Stream:
        """Stream a run's events: all of them, or those after ``Last-Event-ID``.

        ``stream_mode`` (repeated, or one JSON array) keeps only those modes.
        """
        run = await runs.owned_run(thread_id, run_id, owner)
        modes = responses.query_modes(stream_mode)
        subscription = await runs.bus.subscribe_events(
            run.thread_id, run.run_id, after_seq=responses.after_seq_of(last_event_id)
        )
        base = responses.thread_run_path(run)
        return responses.stream_response(
            runs,
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
        runs: NamedDependency[RunService],
        owner: NamedDependency[str],
        thread_id: FromPath[str],
        run_id: FromPath[str],
        wait: FromQuery[bool] = False,
        action: FromQuery[str] = "interrupt",
    ) -> Response[Any] | Stream:
        """Cancel a pending or running run: 202 once it reads ``interrupted`` (or, rolled
        back, is gone); ``wait=1``: 200 once it has stopped, with langgraph-api's ``{}``."""
        run = await runs.owned_run(thread_id, run_id, owner, "update")
        return await responses.cancel_response(runs, run, action, wait)

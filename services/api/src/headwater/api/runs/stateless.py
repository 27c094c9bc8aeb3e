"""Stateless runs (``/runs…``): each on a new thread, deleted afterwards unless kept.

Create, stream and wait are the thread runs' own (:mod:`headwater.api.runs.responses`) with
no thread id.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody
from litestar.response import Stream

from headwater.api.runs import responses
from headwater.api.runs.service import RunService
from headwater.api.shared.errors import Unprocessable
from headwater.api.shared.schemas import CancelMany, RunCreate
from headwater.api.shared.wire import run_json


class StatelessRunsController(Controller):
    """``/runs…``: runs on a new thread that is deleted afterwards (``on_completion``)."""

    path = "/runs"
    tags = ["Stateless Runs"]

    @post("/batch", status_code=200)
    async def batch(
        self,
        runs: NamedDependency[RunService],
        owner: NamedDependency[str],
        data: JSONBody[list[RunCreate]],
        request: Request[Any, Any, Any],
    ) -> list[dict[str, Any]]:
        """Create several background runs, each on a new thread."""
        if not data:
            raise Unprocessable("the batch must hold at least one run")
        return [run_json(await responses.admit(runs, body, None, owner, request)) for body in data]

    @post("/cancel", status_code=204)
    async def cancel_many(
        self,
        runs: NamedDependency[RunService],
        owner: NamedDependency[str],
        data: JSONBody[CancelMany],
        action: FromQuery[str] = "interrupt",
    ) -> None:
        """Cancel runs by id on a thread, or every pending and/or running run of the caller."""
        await runs.cancel_many(data, owner, action)

    @post("/", status_code=200)
    async def create(
        self,
        runs: NamedDependency[RunService],
        owner: NamedDependency[str],
        data: JSONBody[RunCreate],
        request: Request[Any, Any, Any],
    ) -> Response[dict[str, Any]]:
        """Create a background run on a new thread."""
        return await responses.create_run(runs, data, None, owner, request)

    @post("/stream", status_code=200)
    async def stream(
        self,
        runs: NamedDependency[RunService],
        owner: NamedDependency[str],
        data: JSONBody[RunCreate],
        request: Request[Any, Any, Any],
    ) -> Stream:
        """Create a run on a new thread and stream it."""
        return await responses.create_and_stream(runs, data, None, owner, request)

    @post("/wait", status_code=200)
    async def wait(
        self,
        runs: NamedDependency[RunService],
        owner: NamedDependency[str],
        data: JSONBody[RunCreate],
        request: Request[Any, Any, Any],
    ) -> Stream:
        """Create a run on a new thread and answer its final values."""
        return await responses.create_and_wait(runs, data, None, owner, request)

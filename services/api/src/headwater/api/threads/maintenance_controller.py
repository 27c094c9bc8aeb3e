"""``POST /threads/{id}/copy`` and ``POST /threads/prune`` (``DELETE /threads/{id}`` is the
threads controller's); the work is :mod:`headwater.api.threads.maintenance`'s."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from headwater.api.runs.service import RunService
from headwater.api.shared.wire import thread_json
from headwater.api.threads.maintenance import MAX_PRUNE, copy_thread, prune_threads


class ThreadPrune(msgspec.Struct, kw_only=True):
    """``POST /threads/prune``."""

    thread_ids: Annotated[list[str], msgspec.Meta(max_length=MAX_PRUNE)] = msgspec.field(
        default_factory=list
    )
    strategy: Literal["delete", "keep_latest"] = "delete"


class ThreadMaintenanceController(Controller):
    """Copy and prune."""

    path = "/threads"
    tags = ["Threads"]

    @post("/{thread_id:str}/copy", status_code=200)
    async def copy_thread(
        self,
        runs: NamedDependency[RunService],
        owner: NamedDependency[str],
        thread_id: FromPath[str],
    ) -> dict[str, Any]:
        """A new thread with the same metadata, state and checkpoint history."""
        return thread_json(await copy_thread(runs, thread_id, owner))

    @post("/prune", status_code=200)
    async def prune_threads(
        self,
        runs: NamedDependency[RunService],
        owner: NamedDependency[str],
        data: JSONBody[ThreadPrune],
    ) -> dict[str, int]:
        """``delete``: the threads go entirely; ``keep_latest``: only their latest state stays."""
        return {"pruned_count": await prune_threads(runs, data.thread_ids, data.strategy, owner)}

"""Deleting, copying and pruning threads: rows here, checkpoints through a worker.

The checkpoints belong to the LangGraph checkpointer, which only workers open (the API holds
no LangGraph), so each operation asks a worker first and touches the rows after: when no
worker answers, nothing has changed and the caller gets a 503 to retry.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from headwater.api.auth.authorization import authorize
from headwater.api.runs.service import RunService
from headwater.api.shared.errors import NotFound, Unavailable
from headwater.api.threads.access import ask_worker, owned_thread
from headwater.common.db import crons, repository
from headwater.common.db.models import RunRow, ThreadRow, utcnow
from headwater.common.ids import is_uuid, uuid7
from headwater.common.schemas import GraphRequest
from headwater.common.subjects import THREAD_DELETED_EVENT, THREAD_LEVEL

MAX_PRUNE = 1000
STOP_POLL_S = 0.05


async def _stop_runs(runs: RunService, thread_id: str) -> None:
    """Interrupt whatever still runs on a thread about to go, and wait until it has stopped
    (a run still finishing would write checkpoints after they were deleted)."""
    async with runs.sessions() as session:
        active = await repository.active_run_ids(session, thread_id)
        going = [run for run_id in active if (run := await session.get(RunRow, run_id))]
    for run in going:
        await runs.admission.cancel(run, "interrupt")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + runs.settings.request_timeout_s
    while going and loop.time() < deadline:
        async with runs.sessions() as session:
            if not await repository.active_run_ids(session, thread_id):
                return
        await asyncio.sleep(STOP_POLL_S)
    if going:
        raise Unavailable(f"The runs of thread {thread_id} did not stop; try again")


async def prune_checkpoints(
    runs: RunService,
    threads: list[ThreadRow],
    owner: str,
    strategy: Literal["delete", "keep_latest"],
) -> None:
    """Delete the threads' checkpoints, or all but the latest, through a worker.

    Every thread is asked for, not only those whose metadata names a graph: the owner may have
    patched that key away, and checkpoints left behind would pass to whoever reuses the id.
    """
    if threads:
        request = GraphRequest(
            op="prune",
            graph_id="",
            thread_id="",
            owner=owner,
            thread_ids=[t.thread_id for t in threads],
            strategy=strategy,
        )
        await ask_worker(runs.bus, request, runs.settings.request_timeout_s)


async def erase_threads(runs: RunService, threads: list[ThreadRow], owner: str) -> None:
    """Delete threads with their runs, crons, checkpoints and events.

    The thread is marked ``deleting`` first (runs are no longer admitted or claimed, streams no
    longer opened), its runs are stopped, then everything that can fail happens before the rows
    go: a 503 leaves the thread marked, and ``DELETE`` again finishes the job. The deleted
    marker comes after the purge, so no open thread stream can miss it.
    """
    async with runs.sessions.begin() as session:  # first: nothing new may start on them
        await repository.mark_deleting(session, [t.thread_id for t in threads])
    for thread in threads:
        await _stop_runs(runs, thread.thread_id)
    await prune_checkpoints(runs, threads, owner, "delete")
    try:
        for thread in threads:  # its events go; open thread streams end at the marker
            await runs.bus.purge_thread_events(thread.thread_id)
            await runs.bus.publish_event_confirmed(
                thread.thread_id, THREAD_LEVEL, THREAD_DELETED_EVENT, b"{}"
            )
    except Exception as exc:
        raise Unavailable(f"Could not clear the thread's events: {type(exc).__name__}") from exc
    async with runs.sessions.begin() as session:
        for thread in threads:
            await repository.delete_thread(session, thread.thread_id)
            await crons.delete_crons_of(session, thread_id=thread.thread_id)


async def copy_thread(runs: RunService, thread_id: str, owner: str) -> ThreadRow:
    """A new thread with the same metadata, state and checkpoint history (the checkpoints
    are copied by a worker first: when none answers, no row is written)."""
    source = await owned_thread(runs.sessions, runs.auth, thread_id, owner)
    copy_id = uuid7()
    value: dict[str, Any] = {
        "thread_id": copy_id,
        "metadata": dict(source.metadata_ or {}),
        "if_exists": "raise",
    }
    await authorize(runs.auth, "threads", "create", value)
    if (source.metadata_ or {}).get("graph_id"):
        request = GraphRequest(
            op="copy",
            graph_id=str(source.metadata_["graph_id"]),
            thread_id=source.thread_id,
            owner=owner,
            target_thread_id=copy_id,
        )
        await ask_worker(runs.bus, request, runs.settings.request_timeout_s)
    copy = repository.new_thread(copy_id, value["metadata"], owner)
    copy.status = copy.settled_status = source.settled_status
    copy.values, copy.interrupts, copy.error = source.values, source.interrupts, source.error
    copy.config = dict(source.config or {})
    copy.state_updated_at = utcnow()
    async with runs.sessions.begin() as session:
        session.add(copy)
    return copy


async def prune_threads(
    runs: RunService, thread_ids: list[str], strategy: Literal["delete", "keep_latest"], owner: str
) -> int:
    """``delete``: the threads go entirely; ``keep_latest``: only their latest state stays.
    Answers how many of the caller's threads were pruned."""
    threads: list[ThreadRow] = []
    for thread_id in dict.fromkeys(thread_ids):
        if not is_uuid(thread_id):
            continue  # not a thread anybody has: nothing to prune, nothing to say
        try:
            threads.append(await owned_thread(runs.sessions, runs.auth, thread_id, owner, "delete"))
        except NotFound:
            continue  # another user's, or hidden by the auth handlers: not counted
    if strategy == "delete":
        await erase_threads(runs, threads, owner)
    else:
        await prune_checkpoints(runs, threads, owner, "keep_latest")
    return len(threads)

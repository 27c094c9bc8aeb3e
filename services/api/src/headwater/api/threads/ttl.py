"""Threads with a time to live: a sweep deletes them (or prunes them to their latest state).

A thread's ``expires_at`` is ``ttl`` minutes after its creation, its last patch with a ``ttl``,
its last run or its last state update. Every API replica sweeps every
``HEADWATER_THREAD_SWEEP_S`` seconds; a compare-and-set on ``expires_at`` gives each expired
thread to one replica. ``delete`` erases it as ``DELETE /threads/{id}`` does; ``keep_latest``
prunes its checkpoints to the latest and leaves it without an expiry until its next activity.
A thread with a run in flight is left alone: the run's end renews its TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from headwater.api.runs.service import RunService
from headwater.api.shared.errors import ApiError
from headwater.api.threads.maintenance import erase_threads, prune_checkpoints
from headwater.common.db import repository
from headwater.common.db.models import ThreadRow, utcnow

log = logging.getLogger(__name__)
BATCH = 100


async def sweep_expired(runs: RunService) -> int:
    """Delete or prune the threads whose TTL has passed; how many this replica took."""
    async with runs.sessions() as session:
        due = list(await repository.expired_threads(session, utcnow(), BATCH))
    taken = 0
    for thread in due:
        assert thread.expires_at is not None
        async with runs.sessions.begin() as session:
            if not await repository.claim_expiry(session, thread.thread_id, thread.expires_at):
                continue  # another replica has it
        taken += 1
        try:
            await _expire(runs, thread)
        except (ApiError, OSError) as exc:
            log.warning("thread %s: its TTL passed but it could not go: %s", thread.thread_id, exc)
    return taken


async def _expire(runs: RunService, thread: ThreadRow) -> None:
    if thread.ttl_strategy == "keep_latest":
        await prune_checkpoints(runs, [thread], thread.owner, "keep_latest")
        log.info("thread %s pruned to its latest state (TTL)", thread.thread_id)
        return
    await erase_threads(runs, [thread], thread.owner)
    log.info("thread %s deleted (TTL)", thread.thread_id)


@contextlib.asynccontextmanager
async def sweeping(runs: RunService) -> AsyncIterator[None]:
    """Sweep beside the app; not at all with ``HEADWATER_THREAD_SWEEP_S=0``."""
    every = runs.settings.thread_sweep_s
    if every <= 0:
        yield
        return

    async def loop() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await sweep_expired(runs)
            except Exception:  # a sweep that fails is retried at the next tick
                log.warning("thread TTL sweep failed", exc_info=True)

    task = asyncio.create_task(loop(), name="headwater-thread-sweeper")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

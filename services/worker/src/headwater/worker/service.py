"""The worker loop: pull runs with bounded concurrency, drain on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.common.bus import Bus
from headwater.common.bus.memory import InProcessBus
from headwater.common.graph_config import apply_env, load_project
from headwater.common.outages import is_outage
from headwater.common.settings import Settings
from headwater.common.subjects import Names
from headwater.common.telemetry.metrics import WORKER_CONCURRENCY
from headwater.common.webhooks import webhook_policy
from headwater.worker.checkpointer import open_checkpointer
from headwater.worker.execute import RunExecutor
from headwater.worker.graph_requests import GraphRequestHandler
from headwater.worker.memory_store import MemoryServiceStore
from headwater.worker.presence import WorkerPresence
from headwater.worker.reaper import StuckRunReaper
from headwater.worker.registry import GraphRegistry
from headwater.worker.webhooks import WebhookSender

log = logging.getLogger(__name__)
WEBHOOK_TIMEOUT_S = 10.0
FETCH_RETRY_S = 0.5


class Worker:
    """Pulls run requests and executes at most ``concurrency`` of them at once."""

    def __init__(
        self, bus: Bus, executor: RunExecutor, *, concurrency: int, drain_timeout: float
    ) -> None:
        self.bus = bus
        self.executor = executor
        self.concurrency = max(1, concurrency)
        self.drain_timeout = drain_timeout
        self.in_flight: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then drain: finish in-flight runs or hand them back."""
        stopper = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                free = self.concurrency - len(self.in_flight)
                if free <= 0:
                    await asyncio.wait(
                        {stopper, *self.in_flight}, return_when=asyncio.FIRST_COMPLETED
                    )
                    continue
                fetch = asyncio.create_task(self.bus.fetch_runs(free, timeout=1.0))
                await asyncio.wait({fetch, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if not fetch.done():
                    fetch.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await fetch
                    break
                try:
                    deliveries = fetch.result()
                except Exception as exc:
                    if not is_outage(exc):
                        raise
                    # NATS is away: the client reconnects by itself, the durable consumer
                    # keeps the queue; pull again shortly.
                    log.warning("fetching runs failed (%s); retrying", type(exc).__name__)
                    await asyncio.wait({stopper}, timeout=FETCH_RETRY_S)
                    continue
                for delivery in deliveries:
                    task = asyncio.create_task(
                        self.executor.execute(delivery), name=f"run-{delivery.request.run_id}"
                    )
                    self.in_flight.add(task)
                    task.add_done_callback(self._done)
        finally:
            stopper.cancel()
            await self.drain()

    def _done(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("run task crashed", exc_info=task.exception())

    async def drain(self) -> None:
        """Stop taking work; give in-flight runs ``drain_timeout`` seconds, then hand back."""
        await self.bus.stop_serving()
        if not self.in_flight:
            return
        log.info(
            "draining %d in-flight runs (up to %.0f s)", len(self.in_flight), self.drain_timeout
        )
        _, pending = await asyncio.wait(set(self.in_flight), timeout=self.drain_timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
            log.info("handed %d unfinished runs back to the queue", len(pending))


@contextlib.asynccontextmanager
async def worker_components(
    settings: Settings,
    bus: Bus,
    sessions: async_sessionmaker[AsyncSession],
    *,
    setup_checkpointer: bool = False,
) -> AsyncIterator[Worker]:
    """Load the project, open the checkpointer, answer graph requests; yield the Worker."""
    project = load_project(settings.config)
    apply_env(project)
    async with (
        open_checkpointer(
            settings.checkpoint_dsn,
            pool_size=settings.worker_concurrency + 2,
            setup=setup_checkpointer,
            retry_s=settings.db_retry_s,
        ) as saver,
        httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_S, follow_redirects=False) as webhook_http,
    ):
        store = (
            MemoryServiceStore(
                settings.memory_url,
                timeout=settings.request_timeout_s,
                service_token=settings.service_token,
            )
            if settings.memory_url
            else None
        )
        registry = GraphRegistry(project, saver, store)
        await bus.serve_requests(GraphRequestHandler(registry, sessions, bus, saver))
        presence = WorkerPresence(
            sessions,
            graphs=sorted(project.graphs),
            concurrency_limit=max(1, settings.worker_concurrency),
            interval_s=settings.worker_heartbeat_s,
        )
        executor = RunExecutor(
            bus,
            sessions,
            registry,
            saver,
            # four beats per ack_wait: a live worker's run is never redelivered, a dead one's
            # is redelivered within ack_wait of its last beat
            heartbeat_s=max(0.25, settings.ack_wait_s / 4),
            destination=Names(settings.namespace).run_requests,
            run_timeout_s=settings.run_timeout_s,
            webhooks=WebhookSender(webhook_policy(project.raw), webhook_http, sessions),
            db_retry_s=settings.db_retry_s,
            bus_retry_s=settings.bus_retry_s,
            presence=presence,
            max_attempts=settings.max_deliver,
            # Only where the API shares this loop (dev): measured at C=50, it cut dev's TTFT
            # p50 by a quarter or more; over NATS the pauses cost more than they gave.
            start_priority=isinstance(bus, InProcessBus),
        )
        WORKER_CONCURRENCY.set(settings.worker_concurrency)
        reaper = asyncio.create_task(
            StuckRunReaper(
                bus,
                sessions,
                pending_after_s=settings.stuck_run_after_s,
                db_retry_s=settings.db_retry_s,
                stale_after_s=presence.stale_after_s,
            ).run()
        )
        await presence.start()
        try:
            yield Worker(
                bus,
                executor,
                concurrency=settings.worker_concurrency,
                drain_timeout=settings.drain_timeout_s,
            )
        finally:
            reaper.cancel()
            await presence.stop()
            if store is not None:
                await store.aclose()

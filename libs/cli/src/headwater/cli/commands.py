"""What each ``headwater`` sub-command does."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import uvicorn
from sqlalchemy.exc import DBAPIError

from headwater.cli.devlog import LoggedBus, RequestLog
from headwater.cli.http_limits import http_protocol
from headwater.cli.runtime import serve, serve_in_background, stop_on_signals
from headwater.cli.startup import (
    StartupError,
    check_port_free,
    database_label,
    redact_url,
    unreachable_reason,
    until_stopped,
    wait_for_database,
    wait_for_nats,
)
from headwater.cli.waiting import WaitingApp
from headwater.common.bus.nats import NatsBus
from headwater.common.bus.options import memory_event_options
from headwater.common.db.engine import make_engine, make_sessionmaker
from headwater.common.db.migrate import migration_lock, upgrade
from headwater.common.graph_config import ConfigError, ProjectConfig, load_project
from headwater.common.settings import Settings
from headwater.common.telemetry.logs import setup_logging

log = logging.getLogger("headwater")


def _uvicorn_config(app: Any, host: str, port: int, settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning" if settings.log_level == "info" else settings.log_level,
        lifespan="on",
        loop="none",
        http=http_protocol(settings),
    )


def _simulated_embeddings(settings: Settings) -> Settings:
    """With the simulator running, a project with ``store.index`` and no embeddings endpoint
    gets the simulator's ``/v1/embeddings`` (deterministic vectors) for semantic search."""
    from headwater.memory.options import project_store_config

    if settings.embeddings_base_url or project_store_config(settings.config).index is None:
        return settings
    return msgspec.structs.replace(settings, embeddings_base_url=settings.llm_base_url)


def project_of(settings: Settings) -> ProjectConfig:
    """The served langgraph.json, or a :class:`StartupError` naming the setting."""
    try:
        return load_project(settings.config)
    except ConfigError as exc:
        raise StartupError(f"{exc} (--config / HEADWATER_CONFIG={settings.config})") from exc


async def run_dev(
    settings: Settings, *, start_simllm: bool, rules: tuple[Any, ...] | None = None
) -> None:
    """API + worker in one process: in-process bus, SQLite, the simulator unless an LLM is set."""
    from headwater.api.app import SharedResources, create_app
    from headwater.cli.project import point_openai_at
    from headwater.worker.service import worker_components

    stop = stop_on_signals()
    project = project_of(settings)
    check_port_free(settings.host, settings.port, "HEADWATER_PORT / --port")
    if settings.log_level != "debug":  # a line per migration step on every start is noise
        logging.getLogger("alembic").setLevel(logging.WARNING)
    await asyncio.to_thread(upgrade, settings.database_url)
    async with contextlib.AsyncExitStack() as stack:
        if start_simllm:
            from headwater.simllm.config import SimConfig
            from headwater.simllm.server import serve_in_background as serve_simllm

            sim = SimConfig() if rules is None else SimConfig(rules=rules)
            sim_server, sim_task, sim_port = await serve_simllm(sim, "127.0.0.1", 0)
            # the simulator's Litestar app installs Litestar's default logging: ours again
            setup_logging(settings.log_level, settings.log_format or "text")
            os.environ["HEADWATER_LLM_BASE_URL"] = f"http://127.0.0.1:{sim_port}/v1"
            settings = msgspec.structs.replace(
                settings, llm_base_url=os.environ["HEADWATER_LLM_BASE_URL"]
            )
            settings = _simulated_embeddings(settings)
            if not settings.transcription_base_url:  # the simulator transcribes WAV files too
                settings = msgspec.structs.replace(
                    settings, transcription_base_url=settings.llm_base_url
                )
            for name in point_openai_at(settings.llm_base_url, project.env):
                log.info("%s set for the graphs: %s", name, os.environ[name])

            async def stop_sim() -> None:
                sim_server.should_exit = True
                await sim_task

            stack.push_async_callback(stop_sim)
        if not settings.memory_url:
            from headwater.memory.app import create_app as create_memory

            if not settings.service_token:  # known to this process only: the API and worker
                settings = msgspec.structs.replace(
                    settings, service_token=secrets.token_urlsafe(32)
                )
            memory_server = uvicorn.Server(
                uvicorn.Config(
                    create_memory(settings, setup=True),
                    host="127.0.0.1",
                    port=0,
                    log_level="warning",
                    lifespan="on",
                    loop="none",
                    http=http_protocol(settings),
                )
            )
            memory_task, memory_port = await serve_in_background(memory_server)
            settings = msgspec.structs.replace(
                settings, memory_url=f"http://127.0.0.1:{memory_port}"
            )

            async def stop_memory() -> None:
                memory_server.should_exit = True
                await memory_task

            stack.push_async_callback(stop_memory)
        bus = LoggedBus(
            ack_wait=settings.ack_wait_s,
            retention=settings.event_retention_s,
            **memory_event_options(settings),
        )
        await bus.start()
        stack.push_async_callback(bus.close)
        engine = make_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout_s,
        )
        stack.push_async_callback(engine.dispose)
        worker = await stack.enter_async_context(
            worker_components(settings, bus, make_sessionmaker(engine), setup_checkpointer=True)
        )
        worker_stop = asyncio.Event()
        worker_task = asyncio.create_task(worker.run(worker_stop))
        app = create_app(settings, SharedResources(bus=bus, engine=engine))
        server = uvicorn.Server(
            _uvicorn_config(RequestLog(app), settings.host, settings.port, settings)
        )
        base = f"http://{settings.host}:{settings.port}"
        print(
            f"\nHeadwater dev is starting\n  Console:   {base}/console\n  API:       {base}\n"
            f"  API docs:  {base}/docs\n"
            f"  LLM:       {os.environ.get('HEADWATER_LLM_BASE_URL')}\n"
            f"  Graphs:    {settings.config} ({', '.join(project.graphs)})\n"
            f"  Data:      {settings.database_url.split(':///', 1)[-1]}\n",
            flush=True,
        )
        ready = asyncio.create_task(_announce_ready(server, base))
        try:
            await serve(server, stop)
        finally:
            ready.cancel()
            worker_stop.set()
            await worker_task
    log.info("Headwater dev stopped")


async def _announce_ready(server: uvicorn.Server, base: str) -> None:
    while True:
        if server.started:
            break
        await asyncio.sleep(0.05)
    log.info("ready: API %s, docs %s/docs, console %s/console (Ctrl-C stops)", base, base, base)


async def run_worker(settings: Settings) -> None:
    """A cluster worker: NATS bus, the configured database, until SIGTERM.

    While NATS or the database is unreachable it waits (``/readyz`` says why) and stops as
    soon as it is signalled.
    """
    stop = stop_on_signals()
    from headwater.worker.health import WorkerHealth

    project_of(settings)
    health = WorkerHealth()
    if settings.metrics_port:
        check_port_free(
            settings.host,
            settings.metrics_port,
            "HEADWATER_METRICS_PORT",
            "give each worker on this host its own port, or 0 to turn the worker's "
            "/healthz, /readyz and /metrics off",
        )
        health.serve(settings.host, settings.metrics_port)

    def report(reason: str) -> None:
        health.checks = {"startup": reason}

    report(f"connecting to NATS at {redact_url(settings.nats_url)}")
    if not await wait_for_nats(settings.nats_url, stop, report):
        return
    report("checking the database")
    if not await wait_for_database(settings.database_url, stop, report):
        return
    from headwater.worker.service import worker_components  # the graphs' libraries: slow

    bus = NatsBus.from_settings(settings, "headwater-worker")
    engine = make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_s,
    )
    try:
        await until_stopped(bus.start(), stop)
        if stop.is_set():
            return
        sessions = make_sessionmaker(engine)
        watcher = asyncio.create_task(health.watch(bus, sessions))
        try:
            async with worker_components(settings, bus, sessions) as worker:
                health.graphs_loaded = True
                log.info("worker ready (concurrency %d)", settings.worker_concurrency)
                await worker.run(stop)
        finally:
            watcher.cancel()
    finally:
        await bus.close()
        await engine.dispose()


@contextlib.asynccontextmanager
async def _waiting_port(
    settings: Settings, stop: asyncio.Event, reason: str
) -> AsyncIterator[WaitingApp]:
    """Serve ``/healthz`` and a 503 ``/readyz`` with the reason on the service's port while
    the service waits for its infrastructure; the caller updates ``reason``."""
    check_port_free(settings.host, settings.port, "HEADWATER_PORT / --port")
    waiting = WaitingApp(reason)
    server = uvicorn.Server(_uvicorn_config(waiting, settings.host, settings.port, settings))
    task = asyncio.create_task(serve(server, stop))
    try:
        yield waiting
    finally:
        server.should_exit = True
        await task


def _reporter(waiting: WaitingApp) -> Callable[[str], None]:
    def report(reason: str) -> None:
        waiting.reason = reason

    return report


async def run_api(settings: Settings) -> None:
    """A cluster API replica.

    Until NATS and the database answer (and the database is migrated) the port serves
    ``/healthz`` and a 503 ``/readyz`` with the reason; then the API itself.
    """
    stop = stop_on_signals()
    project_of(settings)
    bus = NatsBus.from_settings(settings, "headwater-api")
    engine = make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_s,
    )
    try:
        reason = f"connecting to NATS at {redact_url(settings.nats_url)}"
        async with _waiting_port(settings, stop, reason) as waiting:
            report = _reporter(waiting)
            if not await wait_for_nats(settings.nats_url, stop, report):
                return
            report("checking the database")
            if not await wait_for_database(settings.database_url, stop, report):
                return
            report("connecting the bus")
            await until_stopped(bus.start(), stop)
            if stop.is_set():
                return
            from headwater.api.app import SharedResources, create_app

            app = create_app(settings, SharedResources(bus=bus, engine=engine))
        server = uvicorn.Server(_uvicorn_config(app, settings.host, settings.port, settings))
        log.info("API on http://%s:%d", settings.host, settings.port)
        await serve(server, stop)
    finally:
        await bus.close()
        await engine.dispose()


async def run_memory(settings: Settings) -> None:
    """The memory service (only for callers with ``HEADWATER_SERVICE_TOKEN``); with its store
    in the main database, it first waits for it."""
    if not settings.service_token:
        raise SystemExit(
            "headwater memory needs HEADWATER_SERVICE_TOKEN (the same on the API and workers)"
        )
    stop = stop_on_signals()
    async with _waiting_port(settings, stop, "checking the database") as waiting:
        if not settings.store_url and not await wait_for_database(
            settings.database_url, stop, _reporter(waiting)
        ):
            return
        from headwater.memory.app import create_app

        app = create_app(settings)
    server = uvicorn.Server(_uvicorn_config(app, settings.host, settings.port, settings))
    log.info("memory service on http://%s:%d", settings.host, settings.port)
    await serve(server, stop)


async def run_migrate(settings: Settings, *, streams: bool, check: bool, wait: bool) -> None:
    """Apply database migrations; with ``streams``, also create the NATS streams and consumer.

    With ``check``, apply nothing: fail (or, with ``wait``, wait) until the database is
    migrated, as an API's init container does.
    """
    from headwater.worker.checkpointer import open_checkpointer

    stop = stop_on_signals()
    if check:
        migrated = await wait_for_database(
            settings.database_url, stop, wait_for_migrations=wait, retry_unreachable=wait
        )
        if not migrated:
            raise StartupError("stopped before the database was migrated")
        # A migration in progress holds the lock until the checkpointer and store tables
        # exist too: wait for it, so what this check lets start finds everything.
        async with migration_lock(settings.database_url):
            pass
        log.info("database is migrated: %s", redact_url(settings.database_url))
        return
    from headwater.memory.options import store_options
    from headwater.memory.store import open_backend

    try:
        async with migration_lock(settings.database_url):
            await asyncio.to_thread(upgrade, settings.database_url)
            async with open_checkpointer(settings.checkpoint_dsn, pool_size=1, setup=True):
                pass
            async with open_backend(settings, store_options(settings), setup=True):
                pass
    except (OSError, DBAPIError) as exc:
        raise StartupError(
            f"database at {database_label(settings.database_url)} (HEADWATER_DATABASE_URL) "
            f"is unreachable: {unreachable_reason(exc)}"
        ) from exc
    log.info("database and checkpointer migrated: %s", settings.database_url.split("@")[-1])
    if streams:
        if not await wait_for_nats(settings.nats_url, stop):
            return
        bus = NatsBus.from_settings(settings, "headwater-migrate")
        await until_stopped(bus.start(), stop)
        await bus.close()
        log.info("NATS streams and consumer ready under namespace %r", settings.namespace)

"""What each ``headwater`` sub-command does."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any

import msgspec
import uvicorn

from headwater.cli.runtime import stop_on_signals
from headwater.common.bus.memory import InProcessBus
from headwater.common.bus.nats import NatsBus
from headwater.common.bus.options import event_options, memory_event_options
from headwater.common.db.engine import make_engine, make_sessionmaker
from headwater.common.db.migrate import upgrade
from headwater.common.settings import Settings
from headwater.common.subjects import Names

log = logging.getLogger("headwater")


def _uvicorn_config(app: Any, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning" if log_level == "info" else log_level,
        lifespan="on",
        loop="none",
        http="httptools",
    )


def nats_bus(settings: Settings, client_name: str) -> NatsBus:
    """The cluster bus with the settings' namespace and limits."""
    return NatsBus(
        settings.nats_url,
        Names(settings.namespace),
        ack_wait=settings.ack_wait_s,
        max_deliver=settings.max_deliver,
        retention=settings.event_retention_s,
        client_name=client_name,
        replicas=settings.stream_replicas,
        **event_options(settings),
    )


def _simulated_embeddings(settings: Settings) -> Settings:
    """With the simulator running, a project with ``store.index`` and no embeddings endpoint
    gets the simulator's ``/v1/embeddings`` (deterministic vectors) for semantic search."""
    from headwater.memory.options import project_store_config

    if settings.embeddings_base_url or project_store_config(settings.config).index is None:
        return settings
    return msgspec.structs.replace(settings, embeddings_base_url=settings.llm_base_url)


async def run_dev(settings: Settings, *, start_simllm: bool) -> None:
    """API + worker in one process: in-process bus, SQLite, the simulator unless an LLM is set."""
    from headwater.api.app import SharedResources, create_app
    from headwater.worker.service import worker_components

    await asyncio.to_thread(upgrade, settings.database_url)
    async with contextlib.AsyncExitStack() as stack:
        if start_simllm:
            from headwater.simllm.config import SimConfig
            from headwater.simllm.server import serve_in_background

            sim_server, sim_task, sim_port = await serve_in_background(SimConfig(), "127.0.0.1", 0)
            os.environ["HEADWATER_LLM_BASE_URL"] = f"http://127.0.0.1:{sim_port}/v1"
            settings = msgspec.structs.replace(
                settings, llm_base_url=os.environ["HEADWATER_LLM_BASE_URL"]
            )
            settings = _simulated_embeddings(settings)

            async def stop_sim() -> None:
                sim_server.should_exit = True
                await sim_task

            stack.push_async_callback(stop_sim)
        if not settings.memory_url:
            from headwater.memory.app import create_app as create_memory

            memory_server = uvicorn.Server(
                uvicorn.Config(
                    create_memory(settings, setup=True),
                    host="127.0.0.1",
                    port=0,
                    log_level="warning",
                    lifespan="on",
                    loop="none",
                )
            )
            memory_server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
            memory_task = asyncio.create_task(memory_server.serve())
            while not memory_server.started:
                if memory_task.done():
                    await memory_task
                    raise RuntimeError("the memory service did not start")
                await asyncio.sleep(0.01)
            memory_port = memory_server.servers[0].sockets[0].getsockname()[1]
            settings = msgspec.structs.replace(
                settings, memory_url=f"http://127.0.0.1:{memory_port}"
            )

            async def stop_memory() -> None:
                memory_server.should_exit = True
                await memory_task

            stack.push_async_callback(stop_memory)
        bus = InProcessBus(
            ack_wait=settings.ack_wait_s,
            max_deliver=settings.max_deliver,
            retention=settings.event_retention_s,
            **memory_event_options(settings),
        )
        await bus.start()
        stack.push_async_callback(bus.close)
        engine = make_engine(settings.database_url)
        stack.push_async_callback(engine.dispose)
        worker = await stack.enter_async_context(
            worker_components(settings, bus, make_sessionmaker(engine), setup_checkpointer=True)
        )
        stop = asyncio.Event()
        worker_task = asyncio.create_task(worker.run(stop))
        app = create_app(settings, SharedResources(bus=bus, engine=engine))
        server = uvicorn.Server(
            _uvicorn_config(app, settings.host, settings.port, settings.log_level)
        )
        base = f"http://{settings.host}:{settings.port}"
        print(
            f"\nHeadwater dev is starting\n  API:       {base}\n  API docs:  {base}/docs\n"
            f"  LLM:       {os.environ.get('HEADWATER_LLM_BASE_URL')}\n  Graphs:    {settings.config}\n",
            flush=True,
        )
        try:
            await server.serve()
        finally:
            stop.set()
            await worker_task


async def run_worker(settings: Settings) -> None:
    """A cluster worker: NATS bus, the configured database, until SIGTERM."""
    from headwater.worker.health import WorkerHealth
    from headwater.worker.service import worker_components

    stop = stop_on_signals()
    health = WorkerHealth()
    if settings.metrics_port:
        health.serve(settings.host, settings.metrics_port)
    bus = nats_bus(settings, "headwater-worker")
    await bus.start()
    engine = make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_s,
    )
    sessions = make_sessionmaker(engine)
    watcher = asyncio.create_task(health.watch(bus, sessions))
    try:
        async with worker_components(settings, bus, sessions) as worker:
            health.graphs_loaded = True
            log.info("worker ready (concurrency %d)", settings.worker_concurrency)
            await worker.run(stop)
    finally:
        watcher.cancel()
        await bus.close()
        await engine.dispose()


async def run_api(settings: Settings) -> None:
    """A cluster API replica."""
    from headwater.api.app import create_app

    server = uvicorn.Server(
        _uvicorn_config(create_app(settings), settings.host, settings.port, settings.log_level)
    )
    await server.serve()


async def run_memory(settings: Settings) -> None:
    """The memory service."""
    from headwater.memory.app import create_app

    server = uvicorn.Server(
        _uvicorn_config(create_app(settings), settings.host, settings.port, settings.log_level)
    )
    await server.serve()


async def run_migrate(settings: Settings, *, streams: bool) -> None:
    """Apply database migrations; with ``streams``, also create the NATS streams and consumer."""
    from headwater.worker.checkpointer import open_checkpointer

    await asyncio.to_thread(upgrade, settings.database_url)
    async with open_checkpointer(settings.checkpoint_dsn, pool_size=1, setup=True):
        pass
    from headwater.memory.options import store_options
    from headwater.memory.store import open_backend

    async with open_backend(settings, store_options(settings), setup=True):
        pass
    log.info("database and checkpointer migrated: %s", settings.database_url.split("@")[-1])
    if streams:
        bus = nats_bus(settings, "headwater-migrate")
        await bus.start()
        await bus.close()
        log.info("NATS streams and consumer ready under namespace %r", settings.namespace)

"""The in-process API tier: the app's own lifespan over an ASGI transport.

No subprocess, no port: the Litestar app is built by ``create_app`` with the in-process bus
and a SQLite database of its own, and driven by ``httpx.AsyncClient`` through
``httpx.ASGITransport`` on the test's event loop. ``with_worker`` adds the worker in the
same loop (as ``headwater dev`` composes them), for runs that must finish. ASGITransport
buffers streaming bodies, so streams are read here only once they have ended; live SSE is
the e2e tier's.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from litestar import Litestar

from headwater.api.app import SharedResources, create_app
from headwater.common.bus.memory import InProcessBus
from headwater.common.db.engine import make_engine, make_sessionmaker
from headwater.common.db.migrate import upgrade
from headwater.common.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
TEST_CONFIG = ROOT / "tests" / "graphs" / "langgraph.json"
AUTH_CONFIG = ROOT / "tests" / "graphs" / "langgraph_auth.json"


@dataclass
class InProcessApi:
    """An API app in this event loop, and the client that talks to it."""

    http: httpx.AsyncClient
    bus: InProcessBus
    settings: Settings
    app: Litestar | None = None


@contextlib.asynccontextmanager
async def in_process_api(
    folder: Path, *, with_worker: bool = False, **overrides: object
) -> AsyncIterator[InProcessApi]:
    """Serve the API (and, if asked, a worker) from ``folder`` until the block ends."""
    options: dict[str, object] = {
        "config": str(TEST_CONFIG),
        "database_url": f"sqlite+aiosqlite:///{folder / 'headwater.sqlite'}",
        "cron_poll_s": 0,
        "thread_sweep_s": 0,
    }
    settings = load_settings(env={}, **{**options, **overrides})
    await asyncio.to_thread(upgrade, settings.database_url)
    bus = InProcessBus(
        ack_wait=settings.ack_wait_s,
        retention=settings.event_retention_s,
    )
    await bus.start()
    engine = make_engine(settings.database_url)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(engine.dispose)
        stack.push_async_callback(bus.close)
        if with_worker:
            from headwater.worker.service import worker_components

            worker = await stack.enter_async_context(
                worker_components(settings, bus, make_sessionmaker(engine), setup_checkpointer=True)
            )
            stop = asyncio.Event()
            task = asyncio.create_task(worker.run(stop))

            async def stop_worker() -> None:
                stop.set()
                await asyncio.wait_for(task, 30)

            stack.push_async_callback(stop_worker)
        app = create_app(settings, SharedResources(bus=bus, engine=engine))
        await stack.enter_async_context(app.lifespan())
        http = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
        )
        yield InProcessApi(http, bus, settings, app)


@contextlib.asynccontextmanager
async def served_in_a_task(folder: Path, **options: object) -> AsyncIterator[InProcessApi]:
    """``in_process_api`` entered and left by one task of its own.

    The app's lifespan holds anyio cancel scopes, which must be exited by the task that
    entered them; a module-scoped fixture's setup and teardown may run in different tasks.
    """
    ready: asyncio.Future[InProcessApi] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()

    async def serve() -> None:
        try:
            async with in_process_api(folder, **options) as served:  # type: ignore[arg-type]
                ready.set_result(served)
                await stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    task = asyncio.create_task(serve())
    try:
        yield await ready
    finally:
        stop.set()
        await task


@pytest.fixture(scope="module")
async def api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[InProcessApi]:
    """The API alone: runs are admitted and stay pending (no worker takes them)."""
    async with served_in_a_task(tmp_path_factory.mktemp("api")) as served:
        yield served


@pytest.fixture(scope="module")
async def api_with_worker(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[InProcessApi]:
    """The API and a worker in this loop: runs finish."""
    async with served_in_a_task(tmp_path_factory.mktemp("dev"), with_worker=True) as served:
        yield served


def new_id() -> str:
    """A fresh UUID, as clients choose thread ids."""
    return str(uuid.uuid4())

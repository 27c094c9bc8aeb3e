"""Outages are told from bugs, retried for a bounded time, and never turn a good run into a
failed one (the worker's executor on the in-process bus and SQLite)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import nats.errors
import pytest
from sqlalchemy import exc as sa_exc

from headwater.common.bus.memory import InProcessBus
from headwater.common.db import repository
from headwater.common.db.engine import make_engine, make_sessionmaker
from headwater.common.db.migrate import upgrade
from headwater.common.graph_config import load_project
from headwater.common.ids import uuid7
from headwater.common.outages import is_outage, ride_out
from headwater.common.schemas import run_end_decoder
from headwater.common.subjects import END_EVENT
from headwater.worker.checkpointer import open_checkpointer
from headwater.worker.execute import RunExecutor
from headwater.worker.registry import GraphRegistry
from tests.unit.test_executor import CONFIG, submit

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]


class AdminShutdown(Exception):
    """Shaped like asyncpg's AdminShutdownError as SQLAlchemy's adapter reports it."""

    sqlstate = "57P01"


class TooManyClients(Exception):
    """PostgreSQL's "sorry, too many clients already"."""

    sqlstate = "53300"


def _dbapi(error: Exception, cls: type[sa_exc.DBAPIError] = sa_exc.DBAPIError) -> Exception:
    return cls("SELECT 1", {}, error)


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (_dbapi(ConnectionRefusedError(), sa_exc.OperationalError), True),
        (_dbapi(AdminShutdown("terminating connection")), True),
        (_dbapi(TooManyClients("sorry, too many clients already")), True),
        (_dbapi(ValueError("bad"), sa_exc.IntegrityError), False),
        (_dbapi(ValueError("bad"), sa_exc.DataError), False),
        (sa_exc.TimeoutError("QueuePool limit"), True),
        (nats.errors.NoRespondersError(), True),
        (nats.errors.TimeoutError(), True),
        (nats.errors.ConnectionClosedError(), True),
        (ConnectionResetError(), True),
        (FileNotFoundError("graph.py"), False),
        (ValueError("a bug"), False),
        (RuntimeError("wrapped"), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_outages_are_told_from_errors(error: Exception, outage: bool) -> None:
    assert is_outage(error) is outage


def test_an_outage_behind_another_error_is_found() -> None:
    try:
        try:
            raise nats.errors.NoRespondersError
        except nats.errors.NoRespondersError as inner:
            raise RuntimeError("publishing failed") from inner
    except RuntimeError as outer:
        assert is_outage(outer)


async def test_ride_out_retries_an_outage_until_it_passes() -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionRefusedError
        return "done"

    assert await ride_out(flaky, what="test", budget_s=5, first_pause_s=0.01) == "done"
    assert calls == 3


async def test_ride_out_raises_other_errors_at_once_and_gives_up_after_its_budget() -> None:
    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        await ride_out(broken, what="test", budget_s=5)
    assert calls == 1

    async def down() -> None:
        raise nats.errors.NoRespondersError

    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(nats.errors.NoRespondersError):
        await ride_out(down, what="test", budget_s=0.3, first_pause_s=0.05)
    assert 0.3 <= loop.time() - started < 1.5


class BlinkingBus(InProcessBus):
    """An in-process bus whose confirmed publishes fail while ``down`` is set."""

    down = False
    events_down = False
    refused = 0

    async def publish_event(self, *args: object, **kwargs: object) -> None:
        if self.events_down:
            raise nats.errors.ConnectionClosedError
        await super().publish_event(*args, **kwargs)  # type: ignore[arg-type]

    async def publish_event_confirmed(self, *args: object, **kwargs: object) -> int:
        if self.down:
            self.refused += 1
            raise nats.errors.NoRespondersError
        return await super().publish_event_confirmed(*args, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def blinking(tmp_path: Path) -> AsyncIterator[tuple[BlinkingBus, RunExecutor, object]]:
    url = f"sqlite+aiosqlite:///{tmp_path}/hw.sqlite"
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    bus = BlinkingBus(ack_wait=5)
    await bus.start()
    async with open_checkpointer(str(tmp_path / "cp.sqlite")) as saver:
        registry = GraphRegistry(load_project(CONFIG), saver)
        executor = RunExecutor(
            bus, sessions, registry, saver, heartbeat_s=0.2, bus_retry_s=0.5, db_retry_s=0.5
        )
        yield bus, executor, sessions
    await bus.close()
    await engine.dispose()


async def _status(sessions: object, run_id: str) -> str | None:
    async with sessions() as session:  # type: ignore[operator]
        return await repository.run_status(session, run_id)


async def test_a_good_run_whose_end_cannot_be_announced_stays_a_success(
    blinking: tuple[BlinkingBus, RunExecutor, object],
) -> None:
    """The bus is down when the run ends: the run is not failed; its delivery goes back, and
    the next delivery announces the end once the bus is back."""
    bus, executor, sessions = blinking
    request = await submit(bus, sessions, uuid7(), {"steps": 2})
    events = await bus.subscribe_events(request.thread_id, request.run_id)
    [delivery] = await bus.fetch_runs(1, timeout=1)
    bus.down = True
    await executor.execute(delivery)
    assert bus.refused >= 2, "the end was retried"
    assert await _status(sessions, request.run_id) == "success"
    names = [e.event for e in await events.next_batch(0.2)]
    assert "error" not in names and END_EVENT not in names
    bus.down = False
    [again] = await bus.fetch_runs(1, timeout=2)
    assert again.request.run_id == request.run_id and again.attempt == 2
    await executor.execute(again)
    [end] = [e for e in await events.next_batch(1) if e.event == END_EVENT]
    assert run_end_decoder.decode(end.data).status == "success"
    assert await _status(sessions, request.run_id) == "success"


async def test_a_blink_of_the_bus_at_the_end_is_waited_out(
    blinking: tuple[BlinkingBus, RunExecutor, object],
) -> None:
    bus, executor, sessions = blinking
    request = await submit(bus, sessions, uuid7(), {"steps": 1})
    events = await bus.subscribe_events(request.thread_id, request.run_id)
    [delivery] = await bus.fetch_runs(1, timeout=1)
    bus.down = True
    running = asyncio.create_task(executor.execute(delivery))
    while not bus.refused:
        await asyncio.sleep(0.01)
    bus.down = False
    await running
    [end] = [e for e in await events.next_batch(1) if e.event == END_EVENT]
    assert run_end_decoder.decode(end.data).status == "success"
    assert await bus.fetch_runs(1, timeout=0.3) == [], "acknowledged"


async def test_a_run_stopped_by_an_outage_is_handed_back_not_failed(
    blinking: tuple[BlinkingBus, RunExecutor, object],
) -> None:
    bus, executor, sessions = blinking
    request = await submit(bus, sessions, uuid7(), {"steps": 2})
    [delivery] = await bus.fetch_runs(1, timeout=1)
    bus.events_down = True
    await executor.execute(delivery)
    assert await _status(sessions, request.run_id) == "running", "not recorded as failed"
    bus.events_down = False
    [again] = await bus.fetch_runs(1, timeout=2)
    assert again.attempt == 2
    await executor.execute(again)
    assert await _status(sessions, request.run_id) == "success"

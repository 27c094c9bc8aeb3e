"""Several API replicas, one PostgreSQL: every due time of a cron fires exactly once.

Each replica has its own engine and NATS connection, as separate processes would; their
schedulers poll at the same instant, many times over. ``tick(now)`` takes the instant to look
at, so the test walks due times without sleeping and without touching the rows itself.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack

import pytest
from sqlalchemy import delete, select

from headwater.api.assistants.service import register_system_assistants
from headwater.api.crons.admission import CronAdmission
from headwater.api.crons.scheduler import CronScheduler, fire_run_id
from headwater.api.crons.schemas import CronCreate
from headwater.api.runs.service import RunService
from headwater.api.shared.context import ApiContext
from headwater.common.bus.nats import NatsBus
from headwater.common.db.engine import make_engine, make_sessionmaker
from headwater.common.db.migrate import upgrade
from headwater.common.db.models import AssistantRow, CronRow, RunRow, ThreadRow
from headwater.common.ids import uuid7
from headwater.common.settings import Settings
from headwater.common.subjects import Names
from headwater.common.webhooks import WebhookPolicy
from tests.services import NatsServer, create_database, drop_database

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
REPLICAS = 4


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A database of this module's own: its schedulers fire every due cron they can see."""
    url = create_database()
    upgrade(url)
    yield url
    drop_database(url)


@pytest.fixture
async def replicas(
    pg_url: str, nats_server: NatsServer, namespace: str
) -> AsyncIterator[list[CronScheduler]]:
    settings = Settings(database_url=pg_url, nats_url=nats_server.url, namespace=namespace)
    async with AsyncExitStack() as stack:
        schedulers = []
        for _ in range(REPLICAS):
            engine = make_engine(pg_url)
            stack.push_async_callback(engine.dispose)
            bus = NatsBus(nats_server.url, Names(namespace), ack_wait=5, retention=60)
            await bus.start()
            stack.push_async_callback(bus.close)
            ctx = ApiContext(
                settings=settings,
                bus=bus,
                sessions=make_sessionmaker(engine),
                graph_ids=["counter"],
            )
            schedulers.append(CronScheduler(RunService.of(ctx), poll_s=1.0))
        async with schedulers[0].runs.sessions.begin() as session:
            await register_system_assistants(session, ["counter"])
        yield schedulers
        await schedulers[0].runs.bus.delete_streams()  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
async def no_crons_left(replicas: list[CronScheduler]) -> AsyncIterator[None]:
    """Crons of one test must not fire in the next."""
    yield
    async with replicas[0].runs.sessions.begin() as session:
        await session.execute(delete(CronRow))


def _crons(scheduler: CronScheduler) -> CronAdmission:
    """Cron admission over the same sessions and auth as ``scheduler``."""
    runs = scheduler.runs
    return CronAdmission(runs.sessions, runs.auth, ["counter"], WebhookPolicy())


async def _runs_of(scheduler: CronScheduler, owner: str) -> list[RunRow]:
    async with scheduler.runs.sessions() as session:
        return list((await session.scalars(select(RunRow).where(RunRow.owner == owner))).all())


async def test_every_due_time_fires_once_across_replicas(replicas: list[CronScheduler]) -> None:
    owner = f"owner-{uuid7()}"
    first = replicas[0]
    clock = dt.datetime.now(dt.UTC)  # start just after a second ticks: both crons share a due time
    await asyncio.sleep(1.02 - clock.microsecond / 1e6)
    async with first.runs.sessions.begin() as session:
        thread_id = uuid7()
        session.add(ThreadRow(thread_id=thread_id, owner=owner, metadata_={}, config={}))
    stateless = await _crons(first).create(
        CronCreate(schedule="* * * * * *", assistant_id="counter", input={"steps": 1}),
        owner,
        None,
    )
    on_thread = await _crons(first).create(
        CronCreate(schedule="* * * * * *", assistant_id="counter", input={"steps": 1}),
        owner,
        thread_id,
    )
    assert stateless.next_run_date is not None
    due_times = [stateless.next_run_date + dt.timedelta(seconds=i) for i in range(12)]
    created: list[str] = []
    for due in due_times:
        now = due + dt.timedelta(milliseconds=300)
        per_replica = await asyncio.gather(*(r.tick(now) for r in replicas))
        assert sum(len(ids) for ids in per_replica) == 2, (due, per_replica)
        created += [run_id for ids in per_replica for run_id in ids]
        assert await asyncio.gather(*(r.tick(now) for r in replicas)) == [[]] * REPLICAS, (
            "a due time that fired does not fire again"
        )

    expected = {fire_run_id(c.cron_id, due) for c in (stateless, on_thread) for due in due_times}
    assert set(created) == expected and len(created) == len(expected) == 24
    runs = await _runs_of(first, owner)
    assert {r.run_id for r in runs} == expected
    assert {r.kwargs["config"]["configurable"]["cron_id"] for r in runs} == {
        stateless.cron_id,
        on_thread.cron_id,
    }
    on_thread_runs = [
        r for r in runs if r.kwargs["config"]["configurable"]["cron_id"] == on_thread.cron_id
    ]
    assert {r.thread_id for r in on_thread_runs} == {thread_id}
    stateless_runs = [r for r in runs if r not in on_thread_runs]
    assert len({r.thread_id for r in stateless_runs}) == 12, "a new thread per fire"
    assert all(r.kwargs["temporary"] for r in stateless_runs), "on_run_completed=delete"
    waiting, unacknowledged = await first.runs.bus.queue_stats()
    assert (waiting, unacknowledged) == (24, 0), "each run queued once (no worker consumes here)"


async def test_disabled_ended_and_orphaned_crons_do_not_fire(
    replicas: list[CronScheduler],
) -> None:
    owner = f"owner-{uuid7()}"
    service = replicas[0].runs
    body = {"schedule": "* * * * * *", "assistant_id": "counter", "input": {"steps": 1}}
    disabled = await _crons(replicas[0]).create(CronCreate(**body, enabled=False), owner, None)  # type: ignore[arg-type]
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
    ending = await _crons(replicas[0]).create(CronCreate(**body, end_time=soon), owner, None)  # type: ignore[arg-type]
    assistant = await _crons(replicas[0]).create(CronCreate(**body), owner, None)  # type: ignore[arg-type]
    healthy = await _crons(replicas[0]).create(CronCreate(**body), owner, None)  # type: ignore[arg-type]
    async with service.sessions.begin() as session:  # the assistant of one cron goes away
        other = AssistantRow(
            assistant_id=uuid7(),
            graph_id="counter",
            name="gone",
            config={},
            context={},
            metadata_={},
            version=1,
            owner=owner,
        )
        session.add(other)
    async with service.sessions.begin() as session:
        row = await session.get(CronRow, assistant.cron_id)
        assert row is not None
        row.assistant_id = other.assistant_id
    async with service.sessions.begin() as session:
        await session.execute(
            delete(AssistantRow).where(AssistantRow.assistant_id == other.assistant_id)
        )

    later = soon + dt.timedelta(seconds=10)
    await asyncio.gather(*(r.tick(later) for r in replicas))
    runs = await _runs_of(replicas[0], owner)
    assert [r.kwargs["config"]["configurable"]["cron_id"] for r in runs] == [healthy.cron_id], (
        "a failing cron does not stop the others"
    )
    async with service.sessions() as session:
        assert await session.get(CronRow, assistant.cron_id) is None, "orphaned crons are removed"
        kept = await session.get(CronRow, disabled.cron_id)
        ended = await session.get(CronRow, ending.cron_id)
    assert kept is not None and kept.next_run_date == disabled.next_run_date
    assert ended is not None and ended.next_run_date == ending.next_run_date

"""The API's event reader and SSE relay over the in-process bus, with the status watch on a
real SQLite database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.api.runs.relay import HEARTBEAT, final_result, sse_events, sse_frame
from headwater.api.streaming import Ended, Idle, RunStatusProbe, RunStatusWatch, read_run
from headwater.common.bus.base import QueuedEvents
from headwater.common.bus.memory import InProcessBus
from headwater.common.db.engine import make_engine, make_sessionmaker
from headwater.common.db.models import Base, RunRow
from headwater.common.schemas import RunEnd, encoder
from headwater.common.subjects import END_EVENT

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]
INTERVAL = 0.05


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'runs.sqlite'}")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def bus() -> AsyncIterator[InProcessBus]:
    memory = InProcessBus()
    await memory.start()
    yield memory
    await memory.close()


async def add_run(sessions: async_sessionmaker[AsyncSession], status: str) -> str:
    run_id = str(uuid.uuid4())
    async with sessions.begin() as session:
        session.add(RunRow(run_id=run_id, thread_id="t", assistant_id="a", status=status))
    return run_id


def probe(
    sessions: async_sessionmaker[AsyncSession], run_id: str, give_up_s: float = 0.3
) -> RunStatusProbe:
    return RunStatusProbe(RunStatusWatch(sessions, interval=INTERVAL, give_up_s=give_up_s), run_id)


def end_of(run_id: str, result: bytes = b"null") -> bytes:
    return encoder.encode(RunEnd(run_id=run_id, status="success", result=msgspec.Raw(result)))


def test_frame_is_crlf_with_id() -> None:
    assert sse_frame("values", b'{"a":1}', 7) == b'event: values\r\ndata: {"a":1}\r\nid: 7\r\n\r\n'
    assert HEARTBEAT == b": heartbeat\r\n\r\n"


async def test_sse_stops_at_end_event_and_writes_a_burst_at_once(
    bus: InProcessBus, sessions: async_sessionmaker[AsyncSession]
) -> None:
    run_id = await add_run(sessions, "running")
    sub = await bus.subscribe_events("t", run_id)
    await bus.publish_event("t", run_id, "metadata", b"{}")
    await bus.publish_event("t", run_id, "values", b"[1]")
    await bus.publish_event_confirmed("t", run_id, END_EVENT, end_of(run_id))
    await bus.publish_event("t", run_id, "values", b"[2]")
    chunks = [c async for c in sse_events(sub, probe(sessions, run_id))]
    first = await bus.first_event_seq("t", run_id)
    assert first is not None
    # One message, one write: ids are the message's sequence times 1000 plus the index.
    assert chunks == [sse_frame("metadata", b"{}", first) + sse_frame("values", b"[1]", first + 1)]


async def test_a_final_run_without_events_ends_normally(
    bus: InProcessBus, sessions: async_sessionmaker[AsyncSession]
) -> None:
    run_id = await add_run(sessions, "success")
    sub = await bus.subscribe_events("t", run_id)
    async with asyncio.timeout(5):
        chunks = [c async for c in sse_events(sub, probe(sessions, run_id), keepalive_s=60)]
    assert chunks == []


async def test_a_final_run_whose_end_event_is_missing_ends_with_an_error_event(
    bus: InProcessBus, sessions: async_sessionmaker[AsyncSession]
) -> None:
    run_id = await add_run(sessions, "success")
    sub = await bus.subscribe_events("t", run_id)
    seq = await bus.publish_event_confirmed("t", run_id, "values", b"[1]")
    async with asyncio.timeout(5):
        chunks = [c async for c in sse_events(sub, probe(sessions, run_id), keepalive_s=60)]
    assert chunks[0] == sse_frame("values", b"[1]", seq)
    assert chunks[-1].startswith(b"event: error\r\ndata: ")
    assert b"Last-Event-ID" in chunks[-1] and b"\r\nid:" not in chunks[-1]


async def test_a_late_end_event_is_waited_for_after_the_database_says_final(
    bus: InProcessBus, sessions: async_sessionmaker[AsyncSession]
) -> None:
    run_id = await add_run(sessions, "success")  # final in the database already
    sub = await bus.subscribe_events("t", run_id)
    await bus.publish_event_confirmed("t", run_id, "values", b"[1]")

    async def late_end() -> None:
        await asyncio.sleep(INTERVAL * 8)
        await bus.publish_event_confirmed("t", run_id, END_EVENT, end_of(run_id))

    ending = asyncio.create_task(late_end())
    body = [c async for c in sse_events(sub, probe(sessions, run_id, give_up_s=5.0))]
    await ending
    assert not any(b"event: error" in chunk for chunk in body)
    assert b"event: values" in body[0]


async def test_a_running_run_is_never_ended_by_the_watch(
    bus: InProcessBus, sessions: async_sessionmaker[AsyncSession]
) -> None:
    run_id = await add_run(sessions, "running")
    sub = await bus.subscribe_events("t", run_id)
    items = read_run(sub, run_id, RunStatusWatch(sessions, interval=INTERVAL), keepalive_s=0.1)
    seen = []
    async with asyncio.timeout(5):
        async for item in items:
            seen.append(item)
            if len(seen) == 4:
                break
    await items.aclose()
    assert all(isinstance(item, Idle) for item in seen)


async def test_final_result_is_the_end_payload_with_keepalives_while_events_flow(
    bus: InProcessBus, sessions: async_sessionmaker[AsyncSession]
) -> None:
    run_id = await add_run(sessions, "running")
    sub = await bus.subscribe_events("t", run_id)

    async def produce() -> None:
        for i in range(30):
            await bus.publish_event("t", run_id, "values", b"[%d]" % i)
            await asyncio.sleep(0.01)
        await bus.publish_event_confirmed("t", run_id, END_EVENT, end_of(run_id, b'{"x":1}'))

    async def fallback() -> bytes:
        return b"{}"

    producer = asyncio.create_task(produce())
    body = [c async for c in final_result(sub, probe(sessions, run_id), fallback, keepalive_s=0.1)]
    await producer
    assert body[-1] == b'{"x":1}'
    assert body.count(b"\n") >= 2, "keep-alives on a fixed interval, events or not"


async def test_final_result_falls_back_to_the_database_without_an_end(
    bus: InProcessBus, sessions: async_sessionmaker[AsyncSession]
) -> None:
    run_id = await add_run(sessions, "error")
    sub = await bus.subscribe_events("t", run_id)

    async def fallback() -> bytes:
        return b'{"from":"db"}'

    async with asyncio.timeout(5):
        body = [c async for c in final_result(sub, probe(sessions, run_id), fallback)]
    assert body == [b'{"from":"db"}']


async def test_a_reader_that_cannot_resume_ends_with_an_error_and_ids_to_resume_from() -> None:
    bus = InProcessBus()
    await bus.start()
    ids = [await bus.publish_event_confirmed("t", "slow", "values", b"x" * 500) for _ in range(20)]
    sub = QueuedEvents(buffer_bytes=4096)  # a push consumer that cannot resume
    for event in await (await bus.subscribe_events("t", "slow")).next_batch(1):
        sub.offer(event)
    seen: list[int] = []
    ended: Ended | None = None
    async for item in read_run(sub, "slow", None):
        if isinstance(item, list):
            seen.extend(part.seq for part in item)
        elif isinstance(item, Ended):
            ended = item
    assert ended is not None and ended.reason == "slow_reader" and ended.failed
    assert seen == ids[: len(seen)] and 0 < len(seen) < len(ids)
    rest = await bus.subscribe_events("t", "slow", after_seq=seen[-1])
    assert [e.seq for e in await rest.next_batch(1)] == ids[len(seen) :]
    await rest.close()
    await bus.close()


async def test_the_watch_checks_every_waiting_run_in_one_query(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    runs = [await add_run(sessions, "running") for _ in range(40)]
    done = await add_run(sessions, "success")
    watch = RunStatusWatch(sessions, interval=INTERVAL)
    for run_id in [*runs, done, "no-such-run"]:
        assert watch.status(run_id) is None  # not checked yet
    await asyncio.sleep(INTERVAL * 1.5)
    assert watch.queries == 1
    assert not any(watch.is_final(run_id) for run_id in runs)
    assert watch.is_final(done) and watch.is_final("no-such-run")
    assert await RunStatusProbe(watch, "no-such-run")() is None
    assert await RunStatusProbe(watch, runs[0])() == "running"

"""The worker's executor on the in-process bus and SQLite: timeouts and thread ordering."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from headwater.common.bus import RunDelivery
from headwater.common.bus.memory import InProcessBus
from headwater.common.codec import loads
from headwater.common.db import repository
from headwater.common.db.engine import make_engine, make_sessionmaker
from headwater.common.db.migrate import upgrade
from headwater.common.db.models import RunRow, utcnow
from headwater.common.graph_config import load_project
from headwater.common.ids import assistant_id_for_graph, uuid7
from headwater.common.schemas import RunRequest
from headwater.worker.checkpointer import open_checkpointer
from headwater.worker.execute import RunExecutor
from headwater.worker.presence import WorkerPresence
from headwater.worker.registry import GraphRegistry

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]
CONFIG = Path(__file__).resolve().parents[1] / "graphs" / "langgraph.json"


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[tuple[InProcessBus, RunExecutor, object]]:
    url = f"sqlite+aiosqlite:///{tmp_path}/hw.sqlite"
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    bus = InProcessBus(ack_wait=5)
    await bus.start()
    async with open_checkpointer(str(tmp_path / "cp.sqlite")) as saver:
        registry = GraphRegistry(load_project(CONFIG), saver)
        executor = RunExecutor(bus, sessions, registry, saver, heartbeat_s=1, run_timeout_s=0.5)
        yield bus, executor, sessions
    await bus.close()
    await engine.dispose()


async def submit(
    bus: InProcessBus,
    sessions: object,
    thread_id: str,
    graph_input: dict[str, object],
    after_s: float = 0.0,
) -> RunRequest:
    request = RunRequest(
        run_id=uuid7(),
        thread_id=thread_id,
        assistant_id=assistant_id_for_graph("counter"),
        graph_id="counter",
        input=graph_input,
        stream_mode=["custom"],
    )
    async with sessions.begin() as session:  # type: ignore[attr-defined]
        if await session.get(repository.ThreadRow, thread_id) is None:
            session.add(repository.new_thread(thread_id, {"graph_id": "counter"}, ""))
        now = utcnow()
        session.add(
            RunRow(
                run_id=request.run_id,
                thread_id=thread_id,
                assistant_id=request.assistant_id,
                status="pending",
                metadata_={},
                kwargs={},
                multitask_strategy="enqueue",
                attempt=0,
                owner="",
                created_at=now + dt.timedelta(seconds=after_s),  # as admission writes it
                updated_at=now,
            )
        )
    await bus.submit_run(request)
    return request


async def test_a_run_past_its_timeout_ends_with_status_timeout(
    parts: tuple[InProcessBus, RunExecutor, object],
) -> None:
    bus, executor, sessions = parts
    request = await submit(bus, sessions, uuid7(), {"steps": 50, "delay": 0.1})
    events = await bus.subscribe_events(request.thread_id, request.run_id)
    [delivery] = await bus.fetch_runs(1, timeout=1)
    await executor.execute(delivery)
    async with sessions() as session:  # type: ignore[operator]
        assert await repository.run_status(session, request.run_id) == "timeout"
    names = [e.event for e in await events.next_batch(1)]
    assert "error" in names and names[-1] == "__end__"
    assert await assert_error(await bus.subscribe_events(request.thread_id, request.run_id))


async def assert_error(sub: object) -> bool:
    batch = await sub.next_batch(1)  # type: ignore[attr-defined]
    error = next(e for e in batch if e.event == "error")
    return loads(error.data)["error"] == "TimeoutError"


async def test_second_run_of_a_thread_waits_for_the_first(
    parts: tuple[InProcessBus, RunExecutor, object],
) -> None:
    bus, executor, sessions = parts
    thread_id = uuid7()
    first = await submit(bus, sessions, thread_id, {"steps": 1, "delay": 0.3, "label": "first"})
    second = await submit(bus, sessions, thread_id, {"steps": 2, "label": "second"})
    deliveries = await bus.fetch_runs(2, timeout=1)
    assert [d.request.run_id for d in deliveries] == [first.run_id, second.run_id]
    # Start the second before the first: it must wait for the thread. It does not hold a
    # slot meanwhile: its delivery goes back to the queue, to come back shortly.
    await executor.execute(deliveries[1])
    async with sessions() as session:  # type: ignore[operator]
        assert await repository.run_status(session, second.run_id) == "pending"
    assert await bus.has_run_request(second.run_id)
    await executor.execute(deliveries[0])
    [again] = await bus.fetch_runs(1, timeout=2)
    assert (again.request.run_id, again.attempt) == (second.run_id, 2)
    await executor.execute(again)
    async with sessions() as session:  # type: ignore[operator]
        assert await repository.run_status(session, second.run_id) == "success"
        thread = await session.get(repository.ThreadRow, thread_id)
    assert thread is not None and thread.values["log"] == ["first 1", "second 2"]


async def test_enqueued_runs_handed_back_while_their_thread_is_busy_run_in_order(
    parts: tuple[InProcessBus, RunExecutor, object],
) -> None:
    """Four runs queued on one thread, every delivery executed as soon as it arrives (the
    later ones first): each waits in the queue (nak with a delay), none is lost or reordered."""
    bus, executor, sessions = parts
    thread_id = uuid7()
    runs = [
        await submit(bus, sessions, thread_id, {"steps": 1, "delay": 0.1, "label": f"r{i}"})
        for i in range(4)
    ]
    handed_back = 0
    async with asyncio.timeout(20):
        while True:
            async with sessions() as session:  # type: ignore[operator]
                statuses = [await repository.run_status(session, r.run_id) for r in runs]
            if statuses == ["success"] * 4:
                break
            deliveries = await bus.fetch_runs(4, timeout=0.5)
            handed_back += sum(d.attempt > 1 for d in deliveries)
            await asyncio.gather(*(executor.execute(d) for d in reversed(deliveries)))
    async with sessions() as session:  # type: ignore[operator]
        thread = await session.get(repository.ThreadRow, thread_id)
    assert thread is not None and thread.values["log"] == ["r0 1", "r1 2", "r2 3", "r3 4"]
    assert handed_back > 0, "the later runs came back from the queue"
    assert not any([await bus.has_run_request(r.run_id) for r in runs])


async def test_a_delayed_run_waits_in_the_queue_and_runs_when_due(
    parts: tuple[InProcessBus, RunExecutor, object],
) -> None:
    """``after_seconds``: the worker that gets the request early hands it back with the time
    left; it comes back when due (not before) and runs."""
    bus, executor, sessions = parts
    loop = asyncio.get_running_loop()
    due = loop.time() + 0.8
    request = await submit(bus, sessions, uuid7(), {"steps": 1, "label": "late"}, after_s=0.8)
    [early] = await bus.fetch_runs(1, timeout=1)
    async with asyncio.timeout(0.5):  # handed back at once: no slot held until it is due
        await executor.execute(early)
    async with sessions() as session:  # type: ignore[operator]
        assert await repository.run_status(session, request.run_id) == "pending"
    assert await bus.has_run_request(request.run_id)
    [again] = await bus.fetch_runs(1, timeout=3)
    assert loop.time() >= due - 0.05, "not before it is due"
    await executor.execute(again)
    async with sessions() as session:  # type: ignore[operator]
        assert await repository.run_status(session, request.run_id) == "success"
    assert not await bus.has_run_request(request.run_id)


async def test_a_delayed_run_cancelled_before_it_is_due_never_runs(
    parts: tuple[InProcessBus, RunExecutor, object],
) -> None:
    bus, executor, sessions = parts
    thread_id = uuid7()
    request = await submit(bus, sessions, thread_id, {"steps": 1}, after_s=0.5)
    [early] = await bus.fetch_runs(1, timeout=1)
    await executor.execute(early)
    async with sessions.begin() as session:  # type: ignore[attr-defined]
        assert await repository.cancel_if_pending(session, request.run_id)
    [due] = await bus.fetch_runs(1, timeout=3)  # the request comes back when due ...
    await executor.execute(due)  # ... and is dropped
    assert not await bus.has_run_request(request.run_id)
    async with sessions() as session:  # type: ignore[operator]
        assert await repository.run_status(session, request.run_id) == "interrupted"
        thread = await session.get(repository.ThreadRow, thread_id)
    assert thread is not None and not (thread.values or {}).get("log")


async def add_counter_run(
    sessions: object, *, created_at: dt.datetime, **columns: object
) -> tuple[str, str]:
    """A run row of the counter graph on a new thread, written as it is (no bus request)."""
    thread_id, run_id = uuid7(), uuid7()
    async with sessions.begin() as session:  # type: ignore[attr-defined]
        session.add(repository.new_thread(thread_id, {"graph_id": "counter"}, ""))
        await repository.ensure_system_assistant(
            session, assistant_id_for_graph("counter"), "counter", "counter"
        )
        row = {
            "metadata_": {},
            "multitask_strategy": "enqueue",
            "attempt": 0,
            "owner": "",
            "updated_at": created_at,
        }
        session.add(
            RunRow(
                run_id=run_id,
                thread_id=thread_id,
                assistant_id=assistant_id_for_graph("counter"),
                created_at=created_at,
                **(row | columns),
            )
        )
    return thread_id, run_id


async def test_lost_request_is_republished_even_while_the_queue_is_busy(
    parts: tuple[InProcessBus, RunExecutor, object], tmp_path: Path
) -> None:
    from headwater.worker.reaper import StuckRunReaper

    bus, executor, sessions = parts
    long_ago = utcnow() - dt.timedelta(minutes=5)
    _, run_id = await add_counter_run(
        sessions,
        status="pending",
        kwargs={"input": {"steps": 1}, "stream_mode": ["values"]},
        created_at=long_ago,
    )
    reaper = StuckRunReaper(bus, sessions, pending_after_s=60)  # type: ignore[arg-type]
    busy = await submit(bus, sessions, uuid7(), {"steps": 1})
    assert await reaper.sweep() == 1, "the queue is busy, but it does not hold this request"
    assert await reaper.sweep() == 0, "republished once: now the queue holds it"
    deliveries = await bus.fetch_runs(2, timeout=1)
    assert {d.request.run_id for d in deliveries} == {busy.run_id, run_id}
    again = next(d for d in deliveries if d.request.run_id == run_id)
    assert again.request.graph_id == "counter"
    for delivery in deliveries:
        await executor.execute(delivery)
    async with sessions() as session:  # type: ignore[operator]
        assert await repository.run_status(session, run_id) == "success"


async def test_a_run_whose_every_attempt_died_fails_visibly(
    parts: tuple[InProcessBus, RunExecutor, object],
) -> None:
    """Attempts are counted at claim: a run claimed ``max_attempts`` times whose workers all
    died is failed by the next delivery's claim, not started a fourth time."""
    bus, executor, sessions = parts
    request = await submit(bus, sessions, uuid7(), {"steps": 1})
    events = await bus.subscribe_events(request.thread_id, request.run_id)
    for attempt in (1, 2, 3):  # each attempt's worker "dies" after its claim
        async with sessions.begin() as session:  # type: ignore[attr-defined]
            claim = await repository.claim_run(session, request.run_id, attempt, max_attempts=3)
        assert (claim.outcome, claim.attempt) == ("claimed", attempt)
    [first] = await bus.fetch_runs(1, timeout=1)
    await first.nak()  # its worker died: the bus delivers the request again
    [delivery] = await bus.fetch_runs(1, timeout=1)
    await executor.execute(delivery)
    batch = await events.next_batch(2)
    batch += await events.next_batch(0.5)
    assert [e.event for e in batch] == ["error", "__end__"]
    assert loads(batch[0].data)["error"] == "WorkerLost"
    assert not await bus.has_run_request(request.run_id), "acknowledged: not delivered again"
    async with sessions() as session:  # type: ignore[operator]
        assert await repository.run_status(session, request.run_id) == "error"
        thread = await session.get(repository.ThreadRow, request.thread_id)
        assert thread is not None and thread.status == "error"


async def test_a_running_run_without_a_live_holder_or_a_delivery_is_failed(
    parts: tuple[InProcessBus, RunExecutor, object],
) -> None:
    """Its deliveries ran out while its worker lived (fenced during an outage), then that
    worker died: nothing would bring the run back, so the sweep fails it visibly. A run whose
    holder beats, or whose request the queue still holds, is left alone."""
    from headwater.worker.reaper import StuckRunReaper

    bus, _executor, sessions = parts
    silent = utcnow() - dt.timedelta(seconds=30)

    running = {"status": "running", "kwargs": {"input": {"steps": 1}}, "attempt": 3}
    orphan_thread, orphan = await add_counter_run(
        sessions, **running, created_at=silent, worker_id="gone-1-abc", heartbeat_at=silent
    )
    _, beating = await add_counter_run(
        sessions, **running, created_at=silent, worker_id="gone-1-abc", heartbeat_at=utcnow()
    )
    queued = await submit(bus, sessions, uuid7(), {"steps": 1})
    async with sessions.begin() as session:  # type: ignore[attr-defined]
        await session.execute(
            RunRow.__table__.update()
            .where(RunRow.run_id == queued.run_id)
            .values(status="running", worker_id="gone-2-abc", heartbeat_at=silent)
        )
    events = await bus.subscribe_events(orphan_thread, orphan)
    reaper = StuckRunReaper(bus, sessions, stale_after_s=3.0)  # type: ignore[arg-type]
    assert await reaper.sweep() == 1
    assert await reaper.sweep() == 0, "failed once"
    batch = await events.next_batch(2)
    batch += await events.next_batch(0.5)
    assert [e.event for e in batch] == ["error", "__end__"]
    assert loads(batch[0].data)["error"] == "WorkerLost"
    async with sessions() as session:  # type: ignore[operator]
        assert await repository.run_status(session, orphan) == "error"
        assert await repository.run_status(session, beating) == "running"
        assert await repository.run_status(session, queued.run_id) == "running"


class RecordedDelivery(RunDelivery):
    """A redelivered copy of a request, as JetStream hands it out again; records its verbs."""

    def __init__(self, request: RunRequest, attempt: int) -> None:
        self.request, self.headers, self.attempt = request, {}, attempt
        self.verbs: list[tuple[str, float | None]] = []

    async def ack(self) -> None:
        self.verbs.append(("ack", None))

    async def nak(self, delay: float | None = None) -> None:
        self.verbs.append(("nak", delay))

    async def term(self) -> None:
        self.verbs.append(("term", None))

    async def in_progress(self) -> None:
        self.verbs.append(("in_progress", None))


async def test_a_redelivered_run_stays_with_its_live_worker(
    parts: tuple[InProcessBus, RunExecutor, object],
) -> None:
    bus, executor, sessions = parts
    registry, saver = executor.registry, executor.checkpointer
    holder_presence = WorkerPresence(
        sessions, graphs=["counter"], concurrency_limit=2, interval_s=0.1
    )  # type: ignore[arg-type]
    other_presence = WorkerPresence(
        sessions, graphs=["counter"], concurrency_limit=2, interval_s=0.1
    )  # type: ignore[arg-type]
    holder, other = (
        RunExecutor(bus, sessions, registry, saver, heartbeat_s=0.1, presence=p)  # type: ignore[arg-type]
        for p in (holder_presence, other_presence)
    )
    await holder_presence.start()
    try:
        request = await submit(bus, sessions, uuid7(), {"steps": 4, "delay": 0.25})
        events = await bus.subscribe_events(request.thread_id, request.run_id)
        [delivery] = await bus.fetch_runs(1, timeout=1)
        running = asyncio.create_task(holder.execute(delivery))
        for _ in range(50):
            await asyncio.sleep(0.05)
            async with sessions() as session:  # type: ignore[operator]
                if await repository.run_status(session, request.run_id) == "running":
                    break
        await asyncio.sleep(0.3)  # past a few heartbeats
        # Another worker gets a copy: the holder beats, so it hands the copy back for later.
        elsewhere = RecordedDelivery(request, attempt=2)
        await other.execute(elsewhere)
        assert [verb for verb, _ in elsewhere.verbs] == ["nak"]
        assert 0.1 <= (elsewhere.verbs[0][1] or 0) <= other_presence.stale_after_s + 0.2
        # The holder itself gets a copy: it joins the run and is acknowledged with it.
        here = RecordedDelivery(request, attempt=3)
        await holder.execute(here)
        assert "ack" not in [verb for verb, _ in here.verbs]
        await running
        assert here.verbs[-1] == ("ack", None)
    finally:
        await holder_presence.stop()
    async with sessions() as session:  # type: ignore[operator]
        run = await session.get(RunRow, request.run_id)
    assert run is not None and run.status == "success"
    assert (run.worker_id, run.attempt) == (holder_presence.worker_id, 1)
    assert run.started_at is not None and run.ended_at is not None
    batch = await events.next_batch(1)
    assert [loads(e.data)["attempt"] for e in batch if e.event == "metadata"] == [1]

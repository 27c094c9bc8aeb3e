"""The worker registry and run timing columns, on PostgreSQL and on SQLite (dev): claims set
the holder, heartbeats are batched per worker, a live holder's run is not taken over (fencing),
finish records the end and the first token, and readers list workers and search runs."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.common.db import repository, workers
from headwater.common.db.engine import make_engine, make_sessionmaker
from headwater.common.db.migrate import upgrade
from headwater.common.db.models import RunRow, WorkerRow, utcnow
from headwater.common.db.repository import aware
from headwater.common.ids import uuid7
from headwater.worker.presence import WorkerPresence

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture(params=["postgresql", "sqlite"])
async def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Sessions]:
    if request.param == "postgresql":
        url = str(request.getfixturevalue("pg_url"))
    else:
        url = f"sqlite+aiosqlite:///{tmp_path}/hw.sqlite"
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    maker = make_sessionmaker(engine)
    async with maker.begin() as session:  # the session database is shared by the module
        await session.execute(RunRow.__table__.delete())
        await session.execute(WorkerRow.__table__.delete())
    yield maker
    await engine.dispose()


async def add_run(
    sessions: Sessions,
    *,
    owner: str = "alice",
    status: str = "pending",
    assistant_id: str = "a1",
    metadata: dict[str, object] | None = None,
    created_at: dt.datetime | None = None,
) -> str:
    run_id, thread_id = uuid7(), uuid7()
    now = created_at or utcnow()
    async with sessions.begin() as session:
        session.add(repository.new_thread(thread_id, {}, owner))
        session.add(
            RunRow(
                run_id=run_id,
                thread_id=thread_id,
                assistant_id=assistant_id,
                status=status,
                metadata_=metadata or {},
                kwargs={},
                multitask_strategy="enqueue",
                attempt=0,
                owner=owner,
                created_at=now,
                updated_at=now,
            )
        )
    return run_id


async def claim(
    sessions: Sessions, run_id: str, attempt: int, worker_id: str, stale_after_s: float = 3.0
) -> repository.Claim:
    async with sessions.begin() as session:
        return await repository.claim_run(
            session, run_id, attempt, worker_id=worker_id, stale_after_s=stale_after_s
        )


async def row(sessions: Sessions, run_id: str) -> RunRow:
    async with sessions() as session:
        found = await session.get(RunRow, run_id)
        assert found is not None
        return found


async def test_claim_records_the_holder_and_fences_a_live_one(sessions: Sessions) -> None:
    run_id = await add_run(sessions)
    assert (await claim(sessions, run_id, 1, "w1")).outcome == "claimed"
    first = await row(sessions, run_id)
    assert first.status == "running"
    assert first.worker_id == "w1"
    assert first.started_at is not None and first.heartbeat_at is not None

    # Redelivered to another worker while w1 beats: not taken over.
    held = await claim(sessions, run_id, 2, "w2")
    assert held.outcome == "held"
    assert 0.0 <= held.holder_age_s < 3.0
    assert (await row(sessions, run_id)).worker_id == "w1"

    # w1 stops beating: after stale_after_s the run goes to w2, keeping its first start.
    async with sessions.begin() as session:
        old = utcnow() - dt.timedelta(seconds=10)
        await session.execute(
            RunRow.__table__.update().where(RunRow.run_id == run_id).values(heartbeat_at=old)
        )
    assert (await claim(sessions, run_id, 2, "w2")).outcome == "claimed"
    taken = await row(sessions, run_id)
    assert (taken.worker_id, taken.attempt) == ("w2", 2)
    assert aware(taken.started_at) == aware(first.started_at)  # type: ignore[arg-type]
    assert aware(taken.heartbeat_at) > old  # type: ignore[arg-type]

    # Its own holder may take it again (the delivery was handed back after an outage).
    assert (await claim(sessions, run_id, 3, "w2")).outcome == "claimed"
    # A first delivery of a running run is a republished copy.
    assert (await claim(sessions, run_id, 1, "w3")).outcome == "duplicate"
    # A holder that hands the run back (shutdown) releases it: taken at once, no waiting.
    assert (await claim(sessions, run_id, 4, "w3")).outcome == "held"
    async with sessions.begin() as session:
        await repository.release_run(session, run_id, "w2")
        assert await workers.heartbeat_runs(session, "w2", [run_id], now=utcnow()) == set()
    assert (await claim(sessions, run_id, 4, "w3")).outcome == "claimed"


async def test_a_finished_run_whose_holder_still_beats_is_finishing(sessions: Sessions) -> None:
    """The holder recorded the end but still beats (its last events are on their way after a
    NATS outage): a redelivery must wait, not announce the end ahead of those events."""
    run_id = await add_run(sessions)
    assert (await claim(sessions, run_id, 1, "w1")).outcome == "claimed"
    async with sessions.begin() as session:
        await session.execute(
            RunRow.__table__.update().where(RunRow.run_id == run_id).values(status="success")
        )
    finishing = await claim(sessions, run_id, 2, "w2")
    assert finishing.outcome == "finishing"
    assert 0.0 <= finishing.holder_age_s < 3.0
    # Its holder's own redelivered copy is simply final.
    assert (await claim(sessions, run_id, 2, "w1")).outcome == "final"
    # Once the holder stops beating (it released the run, or died), the run is final to all.
    async with sessions.begin() as session:
        old = utcnow() - dt.timedelta(seconds=10)
        await session.execute(
            RunRow.__table__.update().where(RunRow.run_id == run_id).values(heartbeat_at=old)
        )
    assert (await claim(sessions, run_id, 3, "w2")).outcome == "final"
    assert (await row(sessions, run_id)).status == "success"


async def test_heartbeats_are_batched_and_only_touch_the_workers_own_runs(
    sessions: Sessions,
) -> None:
    mine = [await add_run(sessions) for _ in range(3)]
    theirs = await add_run(sessions)
    for run_id in mine:
        await claim(sessions, run_id, 1, "w1")
    await claim(sessions, theirs, 1, "w2")
    before = aware((await row(sessions, theirs)).heartbeat_at)  # type: ignore[arg-type]
    token_at = utcnow() - dt.timedelta(seconds=1)
    later = utcnow() + dt.timedelta(seconds=5)
    async with sessions.begin() as session:
        held = await workers.heartbeat_runs(
            session, "w1", [*mine, theirs], now=later, first_tokens={mine[0]: token_at}
        )
    assert held == set(mine)
    for run_id in mine:
        assert aware((await row(sessions, run_id)).heartbeat_at) == later  # type: ignore[arg-type]
    assert aware((await row(sessions, theirs)).heartbeat_at) == before  # type: ignore[arg-type]
    assert aware((await row(sessions, mine[0])).first_token_at) == token_at  # type: ignore[arg-type]
    assert (await row(sessions, mine[1])).first_token_at is None


async def test_finish_records_the_end_and_the_first_token(sessions: Sessions) -> None:
    run_id = await add_run(sessions)
    await claim(sessions, run_id, 1, "w1")
    token_at = utcnow()
    async with sessions.begin() as session:
        run = await session.get(RunRow, run_id)
        assert run is not None
        await repository.finish_run(
            session,
            run_id=run_id,
            thread_id=run.thread_id,
            run_status="success",
            thread_status="idle",
            first_token_at=token_at,
        )
    done = await row(sessions, run_id)
    assert done.status == "success"
    assert aware(done.first_token_at) == token_at  # type: ignore[arg-type]
    assert done.ended_at is not None
    assert aware(done.ended_at) >= aware(done.started_at)  # type: ignore[arg-type]


async def test_search_runs_filters_across_threads_newest_first(sessions: Sessions) -> None:
    base = utcnow()
    ids = [
        await add_run(
            sessions,
            status=status,
            assistant_id=assistant,
            metadata={"team": team},
            created_at=base + dt.timedelta(seconds=i),
        )
        for i, (status, assistant, team) in enumerate(
            [
                ("pending", "a1", "red"),
                ("success", "a1", "blue"),
                ("error", "a2", "red"),
                ("success", "a2", "red"),
            ]
        )
    ]
    await add_run(sessions, owner="mallory", status="success")
    async with sessions() as session:
        everything = await repository.search_runs(session, "alice")
        assert [r.run_id for r in everything] == ids[::-1]
        done = await repository.search_runs(session, "alice", status="success")
        assert [r.run_id for r in done] == [ids[3], ids[1]]
        ended = await repository.search_runs(session, "alice", status=["success", "error"])
        assert [r.run_id for r in ended] == [ids[3], ids[2], ids[1]]
        a2_red = await repository.search_runs(
            session, "alice", assistant_id="a2", metadata={"team": "red"}
        )
        assert [r.run_id for r in a2_red] == [ids[3], ids[2]]
        one = await repository.search_runs(session, "alice", thread_id=everything[0].thread_id)
        assert [r.run_id for r in one] == [ids[3]]
        page = await repository.search_runs(session, "alice", limit=2, offset=1)
        assert [r.run_id for r in page] == [ids[2], ids[1]]


async def test_workers_register_beat_go_stale_and_leave(sessions: Sessions) -> None:
    presence = WorkerPresence(
        sessions, graphs=["agent", "counter"], concurrency_limit=4, interval_s=0.1
    )
    run_id = await add_run(sessions)
    await claim(sessions, run_id, 1, presence.worker_id)
    presence.hold(run_id).token()
    await presence.start()
    try:
        for _ in range(50):
            await asyncio.sleep(0.05)
            async with sessions() as session:
                listed = [
                    w
                    for w in await workers.list_workers(
                        session, stale_after_s=presence.stale_after_s
                    )
                    if w.worker_id == presence.worker_id  # the database may hold others'
                ]
            if listed and listed[0].runs == [run_id]:
                break
        (view,) = listed
        assert view.worker_id == presence.worker_id
        assert view.graphs == ["agent", "counter"]
        assert (view.concurrency_limit, view.concurrency_used) == (4, 1)
        assert view.runs == [run_id]
        assert view.status == "alive"
        assert view.pid > 0 and view.host and view.version
        await asyncio.sleep(0.25)  # the first token reaches the run row with a heartbeat
        assert (await row(sessions, run_id)).first_token_at is not None
        async with sessions() as session:
            aged = await workers.list_workers(session, stale_after_s=0.0)
        assert [w.status for w in aged if w.worker_id == presence.worker_id] == ["stale"]
    finally:
        await presence.stop()
    async with sessions() as session:
        left = await workers.list_workers(session, stale_after_s=10.0)
        assert presence.worker_id not in {w.worker_id for w in left}
        assert await session.get(WorkerRow, presence.worker_id) is None


async def test_runs_of_a_thread_are_claimed_in_order_and_the_thread_stays_busy(
    sessions: Sessions,
) -> None:
    first = await add_run(sessions)
    async with sessions.begin() as session:
        run = await session.get(RunRow, first)
        assert run is not None
        thread_id, now = run.thread_id, utcnow()
        second = uuid7()
        session.add(
            RunRow(
                run_id=second,
                thread_id=thread_id,
                assistant_id="a1",
                status="pending",
                metadata_={},
                kwargs={},
                multitask_strategy="enqueue",
                attempt=0,
                owner="alice",
                created_at=now,
                updated_at=now,
            )
        )
    assert (await claim(sessions, second, 1, "w2")).outcome == "busy"  # the first comes first
    assert (await claim(sessions, first, 1, "w1")).outcome == "claimed"
    assert (await claim(sessions, second, 1, "w2")).outcome == "busy"  # the first runs

    async def finish(run_id: str) -> str:
        async with sessions.begin() as session:
            await repository.finish_run(
                session,
                run_id=run_id,
                thread_id=thread_id,
                run_status="success",
                thread_status="idle",
                values={"done": run_id},
            )
            thread = await session.get(repository.ThreadRow, thread_id, populate_existing=True)
            assert thread is not None and thread.values == {"done": run_id}
            return thread.status

    assert await finish(first) == "busy"  # the second is still pending
    assert (await claim(sessions, second, 1, "w2")).outcome == "claimed"
    assert await finish(second) == "idle"


async def test_claims_count_attempts_wait_for_due_runs_and_stop_after_the_last(
    sessions: Sessions,
) -> None:
    """A run is not started before its ``after_seconds`` (``not_due``, with the wait); each
    claim is one more attempt, whoever makes it; past ``max_attempts`` it is ``exhausted``."""
    later = await add_run(sessions, created_at=utcnow() + dt.timedelta(seconds=30))
    not_due = await claim(sessions, later, 1, "w1")
    assert not_due.outcome == "not_due" and 28.0 < not_due.due_in_s <= 30.0
    assert (await row(sessions, later)).status == "pending"

    run_id = await add_run(sessions)
    for attempt, worker in enumerate(("w1", "w2", "w3"), start=1):
        async with sessions.begin() as session:
            got = await repository.claim_run(
                session, run_id, attempt + 1, worker_id=worker, stale_after_s=None, max_attempts=3
            )
        assert (got.outcome, got.attempt) == ("claimed", attempt)
    async with sessions.begin() as session:
        exhausted = await repository.claim_run(session, run_id, 9, worker_id="w4", max_attempts=3)
    assert (exhausted.outcome, exhausted.attempt) == ("exhausted", 3)
    assert (await row(sessions, run_id)).worker_id == "w3"

"""SQL for assistants, threads and runs, shared by the API (admission) and workers (status).

Functions take an ``AsyncSession`` and never commit unless their name says so; callers own
the transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    delete,
    exists,
    func,
    inspect,
    or_,
    select,
    true,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from headwater.common.db.models import AssistantRow, AssistantVersionRow, RunRow, ThreadRow, utcnow

# Re-exported: the worker reads it from here.
from headwater.common.statuses import ACTIVE_RUN_STATUSES as ACTIVE_RUN_STATUSES

SortOrder = Literal["asc", "desc"]


def _dialect(session: AsyncSession) -> str:
    bind = session.get_bind()
    return bind.dialect.name


def aware(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; they are UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def metadata_matches(
    column: InstrumentedAttribute[Any], wanted: dict[str, Any], dialect: str
) -> ColumnElement[bool]:
    """``column`` contains every key/value of ``wanted`` (JSONB ``@>`` on PostgreSQL)."""
    if not wanted:
        return true()
    if dialect == "postgresql":
        return type_coerce(column, JSONB).contains(wanted)
    clauses: list[ColumnElement[bool]] = []
    for key, value in wanted.items():
        path = "$." + json.dumps(str(key))
        extracted = func.json_extract(column, path)
        if isinstance(value, dict | list):
            # json_extract gives an object or array as minified JSON text, a string as itself:
            # compare texts (json() of a stored plain string would raise "malformed JSON").
            clauses.append(
                func.json_extract(column, path)
                == func.json(json.dumps(value, separators=(",", ":")))
            )
        elif isinstance(value, bool):
            clauses.append(extracted == (1 if value else 0))
        elif value is None:
            clauses.append(func.json_type(column, path) == "null")
        else:
            clauses.append(extracted == value)
    return and_(*clauses)


# assistants --------------------------------------------------------------------------
async def ensure_system_assistant(
    session: AsyncSession, assistant_id: str, graph_id: str, name: str
) -> None:
    """Register a graph's default assistant once (idempotent across replicas)."""
    if await session.get(AssistantRow, assistant_id) is not None:
        return
    now = utcnow()
    session.add(
        AssistantVersionRow(
            assistant_id=assistant_id,
            version=1,
            graph_id=graph_id,
            name=name,
            description=None,
            config={},
            context={},
            metadata_={"created_by": "system"},
            created_at=now,
        )
    )
    session.add(
        AssistantRow(
            assistant_id=assistant_id,
            graph_id=graph_id,
            name=name,
            description=None,
            config={},
            context={},
            metadata_={"created_by": "system"},
            version=1,
            owner="",
            created_at=now,
            updated_at=now,
        )
    )


async def search_assistants(
    session: AsyncSession,
    *,
    graph_id: str | None,
    metadata: dict[str, Any],
    name: str | None,
    limit: int,
    offset: int,
    sort_by: str,
    sort_order: SortOrder,
    owner: str = "",
) -> tuple[Sequence[AssistantRow], int]:
    """Assistants matching the filters (the system ones and the owner's), one page, plus the total."""
    dialect = _dialect(session)
    where = [
        AssistantRow.owner.in_(["", owner]),
        metadata_matches(AssistantRow.metadata_, metadata, dialect),
    ]
    if graph_id:
        where.append(AssistantRow.graph_id == graph_id)
    if name:
        where.append(func.lower(AssistantRow.name).contains(name.lower()))
    order_col = getattr(AssistantRow, sort_by, AssistantRow.created_at)
    order = order_col.asc() if sort_order == "asc" else order_col.desc()
    rows = (
        await session.scalars(
            select(AssistantRow).where(*where).order_by(order).limit(limit).offset(offset)
        )
    ).all()
    total = await session.scalar(select(func.count()).select_from(AssistantRow).where(*where))
    return rows, int(total or 0)


# threads -----------------------------------------------------------------------------
def new_thread(
    thread_id: str,
    metadata: dict[str, Any],
    owner: str,
    status: str = "idle",
    events_after: int = 0,
) -> ThreadRow:
    """A fresh thread row (``events_after``: the event sequence a reused id starts after)."""
    now = utcnow()
    return ThreadRow(
        thread_id=thread_id,
        status=status,
        settled_status="idle" if status == "busy" else status,
        events_after=events_after,
        metadata_=metadata,
        config={},
        values=None,
        interrupts=None,
        error=None,
        owner=owner,
        created_at=now,
        updated_at=now,
        state_updated_at=now,
    )


async def insert_thread(session: AsyncSession, thread: ThreadRow) -> tuple[ThreadRow | None, bool]:
    """Insert ``thread`` unless its id is taken, race-safe (``INSERT … ON CONFLICT DO NOTHING``:
    of concurrent creates of one id exactly one inserts, the others wait for it and insert
    nothing). Returns the row now stored under that id (None if it vanished meanwhile) and
    whether this call created it."""
    insert = pg_insert if _dialect(session) == "postgresql" else sqlite_insert
    values = {
        attr.key: value
        for attr in inspect(ThreadRow).column_attrs
        # unset on a transient row: the column's default applies, as on a flush
        if (value := getattr(thread, attr.key)) is not None
        or (attr.columns[0].default is None and attr.columns[0].server_default is None)
    }
    result = await session.execute(
        insert(ThreadRow).values(**values).on_conflict_do_nothing(index_elements=["thread_id"])
    )
    created = bool(result.rowcount)  # type: ignore[attr-defined]
    stored = await session.get(
        ThreadRow, thread.thread_id, populate_existing=True, with_for_update=True
    )
    return stored, created


async def search_threads(
    session: AsyncSession,
    *,
    ids: list[str] | None,
    metadata: dict[str, Any],
    status: str | None,
    limit: int,
    offset: int,
    sort_by: str,
    sort_order: SortOrder,
    owner: str,
    values: dict[str, Any] | None = None,
) -> tuple[Sequence[ThreadRow], int]:
    """The owner's threads matching the filters (metadata and values by containment), one
    page, plus the total count."""
    dialect = _dialect(session)
    where = [
        ThreadRow.owner == owner,
        metadata_matches(ThreadRow.metadata_, metadata, dialect),
        metadata_matches(ThreadRow.values, values or {}, dialect),
    ]
    if ids:
        where.append(ThreadRow.thread_id.in_(ids))
    if status:
        where.append(ThreadRow.status == status)
    order_col = getattr(ThreadRow, sort_by, ThreadRow.created_at)
    order = order_col.asc() if sort_order == "asc" else order_col.desc()
    rows = (
        await session.scalars(
            select(ThreadRow).where(*where).order_by(order).limit(limit).offset(offset)
        )
    ).all()
    total = await session.scalar(select(func.count()).select_from(ThreadRow).where(*where))
    return rows, int(total or 0)


async def delete_thread(session: AsyncSession, thread_id: str) -> bool:
    """Delete a thread and its runs; False when it did not exist."""
    result = await session.execute(delete(ThreadRow).where(ThreadRow.thread_id == thread_id))
    await session.execute(delete(RunRow).where(RunRow.thread_id == thread_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


# runs --------------------------------------------------------------------------------
async def list_runs(
    session: AsyncSession, thread_id: str, *, limit: int, offset: int, status: str | None
) -> Sequence[RunRow]:
    """A thread's runs, newest first."""
    query = select(RunRow).where(RunRow.thread_id == thread_id)
    if status:
        query = query.where(RunRow.status == status)
    query = (
        query.order_by(RunRow.created_at.desc(), RunRow.run_id.desc()).limit(limit).offset(offset)
    )
    return (await session.scalars(query)).all()


async def search_runs(
    session: AsyncSession,
    owner: str,
    status: str | Sequence[str] | None = None,
    assistant_id: str | None = None,
    thread_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Sequence[RunRow]:
    """The owner's runs across threads, newest first: ``status`` one or any of several,
    ``metadata`` by containment. The rows carry ``worker_id``, ``attempt``, ``started_at``,
    ``first_token_at``, ``ended_at`` beside the LangGraph run's fields."""
    where: list[ColumnElement[bool]] = [
        RunRow.owner == owner,
        metadata_matches(RunRow.metadata_, metadata or {}, _dialect(session)),
    ]
    if isinstance(status, str):
        where.append(RunRow.status == status)
    elif status:
        where.append(RunRow.status.in_(list(status)))
    if assistant_id:
        where.append(RunRow.assistant_id == assistant_id)
    if thread_id:
        where.append(RunRow.thread_id == thread_id)
    query = (
        select(RunRow)
        .where(*where)
        .order_by(RunRow.created_at.desc(), RunRow.run_id.desc())
        .limit(limit)
        .offset(offset)
    )
    return (await session.scalars(query)).all()


async def delete_run(session: AsyncSession, run_id: str) -> None:
    """Remove a run's row (a rolled-back run leaves no trace)."""
    await session.execute(delete(RunRow).where(RunRow.run_id == run_id))


async def delete_if_pending(session: AsyncSession, run_id: str) -> bool:
    """Remove a run that no worker has started; True if it was pending."""
    result = await session.execute(
        delete(RunRow).where(RunRow.run_id == run_id, RunRow.status == "pending")
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def cancel_if_pending(session: AsyncSession, run_id: str) -> bool:
    """Mark a run that no worker has started as interrupted; True if it was pending."""
    result = await session.execute(
        update(RunRow)
        .where(RunRow.run_id == run_id, RunRow.status == "pending")
        .values(status="interrupted", updated_at=(now := utcnow()), ended_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


ClaimOutcome = Literal[
    "claimed", "final", "busy", "duplicate", "held", "finishing", "not_due", "exhausted"
]


class Claim(NamedTuple):
    """What a worker's claim found.

    ``attempt``: for ``claimed``, which execution of the run this is (1 for the first).
    ``holder_age_s``: for ``held`` and ``finishing``, how long ago the holder last showed life.
    ``due_in_s``: for ``not_due``, how long until the run may start.
    """

    outcome: ClaimOutcome
    holder_age_s: float = 0.0
    attempt: int = 0
    due_in_s: float = 0.0


async def claim_run(
    session: AsyncSession,
    run_id: str,
    delivered: int,
    *,
    worker_id: str | None = None,
    stale_after_s: float | None = None,
    max_attempts: int | None = None,
) -> Claim:
    """A worker takes a run: pending (or running, on redelivery) → running, held by
    ``worker_id`` (with ``started_at`` on the first claim and a fresh ``heartbeat_at``), its
    ``attempt`` one more than before. Attempts are counted here, not by the bus: a delivery
    handed back because the run had to wait (``busy``, ``not_due``, ``held``) is not one.

    ``delivered``: how many times the bus delivered this request (1: the first time).
    ``duplicate`` for a first delivery of a run that is already running (a republished copy).
    ``final`` when the run is gone or already finished (a redelivered request of a finished
    run is acknowledged and dropped: JetStream is at-least-once). ``busy`` while another run of
    the same thread is running or an earlier one is still pending: runs of one thread execute
    one at a time, in order, across any number of workers. The thread row is locked for the
    check (``FOR UPDATE`` on PostgreSQL; SQLite writers are serialised anyway). ``not_due``:
    a run created with ``after_seconds`` whose time has not come (its ``created_at`` is when
    it may start).

    ``held`` (fencing): the run is running on another worker whose heartbeat for it is younger
    than ``stale_after_s``. JetStream redelivers a run whose acknowledgement timer ran out,
    which also happens to a live worker cut off from NATS for a while; only a holder that
    stopped beating (it died) loses the run. The check is part of the UPDATE, so two
    claimers cannot both win.

    ``finishing``: the run is final, but the worker that ran it still beats for it: it may
    still be storing the run's last events and its end (NATS came back a moment ago). A
    redelivered request must not announce the end meanwhile: the end would be stored before
    those events, and a stream would stop there.

    ``exhausted``: the run could be taken, but ``max_attempts`` executions of it already
    started and none finished (their workers died): it is not started again.
    """
    # One statement reads the run and locks its thread (FOR UPDATE on PostgreSQL; SQLite
    # writers are serialised anyway); the UPDATE then checks, with a fresh snapshot, that no
    # other run of the thread runs or comes first. Two statements per claim.
    run = (
        await session.execute(
            select(
                RunRow.thread_id,
                RunRow.status,
                RunRow.created_at,
                RunRow.worker_id,
                RunRow.heartbeat_at,
                RunRow.attempt,
                ThreadRow.deleting,
            )
            .join(ThreadRow, ThreadRow.thread_id == RunRow.thread_id)
            .where(RunRow.run_id == run_id)
            .with_for_update(of=ThreadRow)
        )
    ).first()
    if run is None or run.status not in ACTIVE_RUN_STATUSES:
        return _over(run, worker_id, stale_after_s)  # the run, or its thread, is gone; or over
    now = utcnow()
    if (
        run.status == "running"
        and delivered <= 1
        and (stale_after_s is None or _holder_age(run, worker_id, stale_after_s, now) is not None)
    ):
        # A second copy of the request while the first one runs. (A copy of a run whose
        # holder went silent takes the run over below, as a redelivery would.)
        return Claim("duplicate")
    if (held := _held_by_other(run, worker_id, stale_after_s, now)) is not None:
        return held
    if run.deleting:
        return Claim("final")  # the thread is going: nothing of it runs any more
    if run.status == "pending" and (due_in := (aware(run.created_at) - now).total_seconds()) > 0:
        return Claim("not_due", due_in_s=due_in)
    if max_attempts is not None and (run.attempt or 0) >= max_attempts:
        return Claim("exhausted", attempt=run.attempt or 0)
    takeable: ColumnElement[bool] = RunRow.status == "pending"
    if stale_after_s is not None:
        takeable = or_(
            takeable,
            RunRow.worker_id.is_(None),
            RunRow.heartbeat_at.is_(None),
            RunRow.heartbeat_at < now - dt.timedelta(seconds=stale_after_s),
            *([RunRow.worker_id == worker_id] if worker_id else []),
        )
    else:
        takeable = true()
    where = [RunRow.run_id == run_id, RunRow.status.in_(ACTIVE_RUN_STATUSES), takeable]
    if run.status == "pending":
        other = aliased(RunRow)
        first_in_line = ~exists().where(
            other.thread_id == run.thread_id,
            other.run_id != run_id,
            or_(
                other.status == "running",
                and_(
                    other.status == "pending",
                    or_(
                        other.created_at < run.created_at,
                        and_(other.created_at == run.created_at, other.run_id < run_id),
                    ),
                ),
            ),
        )
        where.append(first_in_line)
    attempt = (run.attempt or 0) + 1
    result = await session.execute(
        update(RunRow)
        .where(*where, func.coalesce(RunRow.attempt, 0) == (run.attempt or 0))
        .values(
            status="running",
            attempt=attempt,
            updated_at=now,
            worker_id=worker_id,
            started_at=func.coalesce(RunRow.started_at, now),
            heartbeat_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        return Claim("claimed", attempt=attempt)
    # Another run of the thread comes first, or we lost a race (another worker took the
    # run meanwhile, or it ended).
    again = (
        await session.execute(
            select(RunRow.status, RunRow.worker_id, RunRow.heartbeat_at).where(
                RunRow.run_id == run_id
            )
        )
    ).first()
    if again is None or again.status not in ACTIVE_RUN_STATUSES:
        return _over(again, worker_id, stale_after_s)
    return _held_by_other(again, worker_id, stale_after_s, now) or Claim("busy")  # wait


async def release_run(session: AsyncSession, run_id: str, worker_id: str) -> None:
    """The holder hands a running run back (shutdown, outage): clear its heartbeat so the next
    claimer takes the run at once instead of waiting for it to go stale."""
    await session.execute(
        update(RunRow)
        .where(RunRow.run_id == run_id, RunRow.worker_id == worker_id)
        .values(heartbeat_at=None)
    )


def _holder_age(
    run: Any, worker_id: str | None, stale_after_s: float | None, now: dt.datetime
) -> float | None:
    """How long ago another worker holding ``run`` beat for it; None if no live other
    worker holds it (never claimed, handed back, ours, or its holder went silent)."""
    if stale_after_s is None or run.heartbeat_at is None:
        return None
    if run.worker_id is None or run.worker_id == worker_id:
        return None
    age = (now - aware(run.heartbeat_at)).total_seconds()
    return max(0.0, age) if age < stale_after_s else None


def _held_by_other(
    run: Any, worker_id: str | None, stale_after_s: float | None, now: dt.datetime
) -> Claim | None:
    """``held`` when ``run`` is running on another worker that beat recently, else None."""
    if run.status != "running":
        return None
    age = _holder_age(run, worker_id, stale_after_s, now)
    return None if age is None else Claim("held", age)


def _over(run: Any, worker_id: str | None, stale_after_s: float | None) -> Claim:
    """The claim of a run that is gone or final: ``finishing`` while its holder still beats
    for it, else ``final``."""
    if run is None:
        return Claim("final")
    age = _holder_age(run, worker_id, stale_after_s, utcnow())
    return Claim("final") if age is None else Claim("finishing", age)


async def finish_run(
    session: AsyncSession,
    *,
    run_id: str,
    thread_id: str,
    run_status: str,
    thread_status: str | None,
    values: Any = None,
    interrupts: Any = None,
    error: Any = None,
    update_values: bool = True,
    first_token_at: dt.datetime | None = None,
) -> None:
    """Record a run's final status (and ``ended_at``; ``first_token_at`` when the worker saw
    one and no heartbeat wrote it yet), and its thread's status and denormalised values."""
    now = utcnow()
    changes_of_run: dict[str, Any] = {"status": run_status, "updated_at": now, "ended_at": now}
    if first_token_at is not None:
        changes_of_run["first_token_at"] = func.coalesce(RunRow.first_token_at, first_token_at)
    await session.execute(
        update(RunRow)
        .where(RunRow.run_id == run_id)
        .values(**changes_of_run)
        .execution_options(synchronize_session=False)
    )
    if thread_status is None:
        return
    others_active = exists().where(
        RunRow.thread_id == thread_id,
        RunRow.run_id != run_id,
        RunRow.status.in_(ACTIVE_RUN_STATUSES),
    )
    changes: dict[str, Any] = {
        "status": case((others_active, "busy"), else_=thread_status),
        "settled_status": thread_status,
        "updated_at": now,
        "error": error,
    }
    if update_values:
        changes.update(values=values, interrupts=interrupts, state_updated_at=now)
    ttl = await session.scalar(
        update(ThreadRow)
        .where(ThreadRow.thread_id == thread_id)
        .values(**changes)
        .returning(ThreadRow.ttl_minutes)
        .execution_options(synchronize_session=False)
    )
    if ttl is not None:  # a run counts as activity: the thread lives another ttl
        await session.execute(
            update(ThreadRow)
            .where(ThreadRow.thread_id == thread_id)
            .values(expires_at=now + dt.timedelta(minutes=ttl))
        )


async def thread_idle_unless_busy(session: AsyncSession, thread_id: str) -> None:
    """After a pending run was cancelled: the thread rests as it did before (``idle``,
    ``interrupted``, ``error``) unless other runs are active."""
    others = await session.scalar(
        select(func.count())
        .select_from(RunRow)
        .where(RunRow.thread_id == thread_id, RunRow.status.in_(ACTIVE_RUN_STATUSES))
    )
    if not others:
        await session.execute(
            update(ThreadRow)
            .where(ThreadRow.thread_id == thread_id, ThreadRow.status == "busy")
            .values(status=ThreadRow.settled_status, updated_at=utcnow())
        )


async def run_status(session: AsyncSession, run_id: str) -> str | None:
    """A run's status, or None when it does not exist."""
    return await session.scalar(select(RunRow.status).where(RunRow.run_id == run_id))


async def record_thread_state(
    session: AsyncSession, *, thread_id: str, values: Any, interrupts: Any, status: str
) -> None:
    """Denormalise a thread's state after an update outside a run (``POST …/state``)."""
    now = utcnow()
    changes: dict[str, Any] = {
        "values": values,
        "interrupts": interrupts,
        "status": status,
        "settled_status": status,
        "updated_at": now,
        "state_updated_at": now,
    }
    ttl = await session.scalar(
        select(ThreadRow.ttl_minutes).where(ThreadRow.thread_id == thread_id)
    )
    if ttl is not None:
        changes["expires_at"] = now + dt.timedelta(minutes=ttl)
    await session.execute(
        update(ThreadRow).where(ThreadRow.thread_id == thread_id).values(**changes)
    )


async def oldest_active_run(session: AsyncSession, thread_id: str) -> str | None:
    """The run of a thread that executes now, or is next in line; None when it is quiet."""
    return await session.scalar(
        select(RunRow.run_id)
        .where(RunRow.thread_id == thread_id, RunRow.status.in_(ACTIVE_RUN_STATUSES))
        .order_by((RunRow.status == "running").desc(), RunRow.created_at, RunRow.run_id)
        .limit(1)
    )


async def mark_deleting(session: AsyncSession, thread_ids: Sequence[str]) -> None:
    """From now on no run is admitted or claimed on these threads, no stream opened."""
    await session.execute(
        update(ThreadRow).where(ThreadRow.thread_id.in_(thread_ids)).values(deleting=True)
    )


def set_thread_ttl(thread: ThreadRow, minutes: float | None, strategy: str | None) -> None:
    """Give a thread a time to live from now (``None``: it lives until deleted)."""
    thread.ttl_minutes, thread.ttl_strategy = minutes, strategy if minutes else None
    thread.expires_at = utcnow() + dt.timedelta(minutes=minutes) if minutes else None


async def expired_threads(
    session: AsyncSession, now: dt.datetime, limit: int
) -> Sequence[ThreadRow]:
    """Threads past their TTL with no run active (a run renews the TTL when it ends)."""
    return (
        await session.scalars(
            select(ThreadRow)
            .where(ThreadRow.expires_at <= now, ThreadRow.status != "busy")
            .order_by(ThreadRow.expires_at)
            .limit(limit)
        )
    ).all()


async def claim_expiry(session: AsyncSession, thread_id: str, seen: dt.datetime) -> bool:
    """Take an expired thread for the sweep: of several replicas, only one sees True."""
    result = await session.execute(
        update(ThreadRow)
        .where(ThreadRow.thread_id == thread_id, ThreadRow.expires_at == seen)
        .values(expires_at=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def active_run_ids(session: AsyncSession, thread_id: str) -> list[str]:
    """Runs of a thread that are pending or running."""
    rows = await session.scalars(
        select(RunRow.run_id).where(
            RunRow.thread_id == thread_id, RunRow.status.in_(ACTIVE_RUN_STATUSES)
        )
    )
    return list(rows)

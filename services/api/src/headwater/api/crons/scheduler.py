"""The cron scheduler: a task in every API process that fires each due time of a cron once.

Every ``HEADWATER_CRON_POLL_S`` seconds it reads the due crons (enabled, ``next_run_date`` past,
``end_time`` not past) and *claims* each fire with a conditional UPDATE that moves
``next_run_date`` from the due time it read to the next one, computed from now (fires missed
while no API was up coalesce into one). However many replicas read the same due cron, exactly
one of them sees its UPDATE change the row, and only that one creates the run, through run
admission like a request (the owner, as authenticated when the cron was made, goes to the auth handlers). The
run id is derived from (cron, due time), so no retry could make a second run of one fire.

A claimed fire whose run cannot be created (assistant or thread deleted, ``reject`` on a busy
thread, bus down) is logged and skipped: at most once beats twice for scheduled work. A cron
whose thread or assistant is gone is deleted, as langgraph-api's foreign keys do.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator, Iterator

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from headwater.api.auth.custom import CURRENT_USER, AuthUser
from headwater.api.crons.records import run_body
from headwater.api.crons.schedule import next_fire
from headwater.api.runs.service import RunService
from headwater.api.shared.errors import ApiError, NotFound
from headwater.common.db import crons as cron_sql
from headwater.common.db.models import AssistantRow, CronRow, ThreadRow, utcnow
from headwater.common.db.repository import aware

log = logging.getLogger(__name__)
FIRE_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "headwater:cron-fire")


def fire_run_id(cron_id: str, due: dt.datetime) -> str:
    """The id of the run of ``cron_id``'s fire due at ``due``: the same on every replica."""
    return str(uuid.uuid5(FIRE_NAMESPACE, f"{cron_id}@{aware(due).isoformat()}"))


class CronScheduler:
    """Fires due crons; one per API process, started by :func:`scheduling`."""

    def __init__(self, runs: RunService, *, poll_s: float, batch: int = 100) -> None:
        self.runs = runs
        self.poll_s = poll_s
        self.batch = batch

    async def run(self) -> None:
        """Poll until cancelled. A failed poll (say, the database is down) is logged and retried."""
        log.info("cron scheduler started (every %s s)", self.poll_s)
        while True:
            try:
                await self.tick()
            except Exception:
                log.warning("cron scheduler: poll failed", exc_info=True)
            await asyncio.sleep(self.poll_s)

    async def tick(self, now: dt.datetime | None = None) -> list[str]:
        """Fire every cron due at ``now``; the ids of the runs this process created."""
        now = now or utcnow()
        async with self.runs.sessions() as session:
            due = await cron_sql.due_crons(session, now, self.batch)
        created: list[str] = []
        for cron in due:
            run_id = await self.fire(cron, now)
            if run_id is not None:
                created.append(run_id)
        return created

    async def fire(self, cron: CronRow, now: dt.datetime) -> str | None:
        """Claim ``cron``'s due fire and create its run; None if another replica had it first."""
        due = cron.next_run_date
        if due is None:
            return None
        try:
            following = next_fire(cron.schedule, cron.timezone, now, cron.end_time)
        except ApiError as exc:  # a stored schedule the timezone database no longer accepts
            log.warning("cron %s: %s; it will not fire again", cron.cron_id, exc.detail)
            following = None
        async with self.runs.sessions.begin() as session:
            if not await cron_sql.claim_fire(session, cron.cron_id, due, following):
                return None
        run_id = fire_run_id(cron.cron_id, due)
        try:
            await self._create_run(cron, run_id)
        except IntegrityError:
            log.info("cron %s: the fire due at %s has its run already", cron.cron_id, due)
            return None
        except NotFound as exc:
            await self._forget_if_orphaned(cron, exc.detail)
            return None
        except ApiError as exc:
            log.warning(
                "cron %s: the fire due at %s was refused: %s", cron.cron_id, due, exc.detail
            )
            return None
        except Exception:
            log.error("cron %s: the fire due at %s failed", cron.cron_id, due, exc_info=True)
            return None
        log.info("cron %s fired: run %s", cron.cron_id, run_id)
        return run_id

    async def _create_run(self, cron: CronRow, run_id: str) -> None:
        admission = self.runs.admission
        with self._acting_as(cron):
            run, request = await admission.create(
                run_body(cron),
                thread_id=cron.thread_id,
                owner=cron.owner,
                headers={},
                run_id=run_id,
            )
        await admission.submit(run, request)

    @contextlib.contextmanager
    def _acting_as(self, cron: CronRow) -> Iterator[None]:
        """The cron's owner is the user the auth handlers see for its runs."""
        if self.runs.auth.custom_auth is None:
            yield
            return
        token = CURRENT_USER.set(
            AuthUser({"permissions": [], **(cron.auth_user or {}), "identity": cron.owner})
        )
        try:
            yield
        finally:
            CURRENT_USER.reset(token)

    async def _forget_if_orphaned(self, cron: CronRow, detail: str) -> None:
        try:
            async with self.runs.sessions.begin() as session:
                thread_gone = (
                    cron.thread_id is not None
                    and await session.get(ThreadRow, cron.thread_id) is None
                )
                orphaned = thread_gone or await session.get(AssistantRow, cron.assistant_id) is None
                if orphaned:
                    await cron_sql.delete_cron(session, cron.cron_id)
        except SQLAlchemyError:
            log.warning("cron %s: could not check its thread and assistant", cron.cron_id)
            return
        if orphaned:
            log.info("cron %s deleted: its thread or assistant no longer exists", cron.cron_id)
        else:
            log.warning("cron %s: the fire was refused: %s", cron.cron_id, detail)


@contextlib.asynccontextmanager
async def scheduling(runs: RunService) -> AsyncIterator[CronScheduler | None]:
    """Run the scheduler beside the app; not at all with ``HEADWATER_CRON_POLL_S=0``."""
    if runs.settings.cron_poll_s <= 0:
        log.info("cron scheduler off on this replica (HEADWATER_CRON_POLL_S=0)")
        yield None
        return
    scheduler = CronScheduler(runs, poll_s=runs.settings.cron_poll_s)
    task = asyncio.create_task(scheduler.run(), name="headwater-cron-scheduler")
    try:
        yield scheduler
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)  # our own cancellation still raises

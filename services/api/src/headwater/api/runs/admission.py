"""Run admission: validate a run request, write the run row, hand it to the bus (what the
request becomes is in :mod:`headwater.api.runs.run_shape`).

No Litestar here: controllers translate HTTP to these calls and errors back to HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.api.auth.authorization import authorize, authorize_assistant_for_run
from headwater.api.auth.custom import filter_matches
from headwater.api.runs.run_shape import (
    MAX_AFTER_SECONDS,
    configurable_headers,
    merged_config,
    resolve_assistant,
    run_context,
    start_checkpoint,
    stream_modes,
)
from headwater.api.shared.context import ApiContext
from headwater.api.shared.errors import ApiError, Conflict, NotFound, Unavailable, Unprocessable
from headwater.api.shared.schemas import RunCreate
from headwater.common.bus import EventSubscription
from headwater.common.db import repository
from headwater.common.db.models import RunRow, ThreadRow, utcnow
from headwater.common.ids import is_uuid, uuid7
from headwater.common.schemas import RunControl, RunEnd, RunRequest, encoder
from headwater.common.subjects import END_EVENT, Names
from headwater.common.telemetry.metrics import RUNS_CREATED
from headwater.common.telemetry.tracing import current_trace_id, inject_headers, tracer
from headwater.common.webhooks import url_problem

log = logging.getLogger(__name__)
REJECTED = "Thread is already running a task. Wait for it to finish or choose a different multitask strategy."


class RunAdmission:
    """Creates runs (row + bus request) and cancels them."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    async def create(
        self,
        body: RunCreate,
        *,
        thread_id: str | None,
        owner: str,
        headers: Mapping[str, str],
        run_id: str | None = None,
        new_thread_id: str | None = None,
    ) -> tuple[RunRow, RunRequest]:
        """Validate and write a pending run; return it with the bus request to submit.

        Without ``thread_id`` the run gets a new thread (``new_thread_id``, or a fresh id).
        """
        modes = stream_modes(body)
        after = self._checked(body, thread_id)
        temporary = thread_id is None and body.on_completion == "delete"
        run_id = run_id or uuid7()
        value: dict[str, Any] = {
            "thread_id": thread_id,
            "assistant_id": body.assistant_id,
            "run_id": run_id,
            "metadata": dict(body.metadata or {}),
            "multitask_strategy": body.multitask_strategy,
            "if_not_exists": body.if_not_exists,
            "kwargs": {
                "input": body.input,
                "command": body.command,
                "config": body.config,
                "context": body.context,
            },
        }
        rule = await authorize(self.ctx, "threads", "create_run", value)
        body.metadata = value["metadata"]
        async with self.ctx.sessions.begin() as session:
            assistant = await resolve_assistant(session, self.ctx.graph_ids, body.assistant_id)
            if assistant.owner not in ("", owner):  # another user's assistant: not there
                raise NotFound("Thread or assistant not found.")
            await authorize_assistant_for_run(self.ctx, assistant)
            stamp = {"graph_id": assistant.graph_id, "assistant_id": assistant.assistant_id}
            thread = await self._thread_for_run(
                session, body, thread_id or new_thread_id, thread_id is None, owner, stamp
            )
            if rule and thread_id is not None and not filter_matches(rule, thread.metadata_ or {}):
                raise NotFound("Thread or assistant not found.")
            superseded: list[str] = []
            if body.multitask_strategy != "enqueue":
                superseded = await repository.active_run_ids(session, thread.thread_id)
                if superseded and body.multitask_strategy == "reject":
                    raise Conflict(REJECTED)
            metadata = {
                **(assistant.metadata_ or {}),
                **(thread.metadata_ or {}),
                **(body.metadata or {}),
                **stamp,
            }
            config = merged_config(assistant, thread, body, configurable_headers(headers))
            context = run_context(assistant, body)
            checkpoint = start_checkpoint(body)
            kwargs = {
                "input": body.input,
                "command": body.command,
                "config": config,
                "context": context,
                "stream_mode": modes,
                "interrupt_before": body.interrupt_before,
                "interrupt_after": body.interrupt_after,
                "webhook": body.webhook,
                "temporary": temporary,
                "subgraphs": body.stream_subgraphs,
                "resumable": body.stream_resumable,
                "checkpoint": checkpoint or None,
                "durability": body.durability or "async",
                "after_seconds": after,
                "trace_id": current_trace_id(),  # the run inspector links to this trace
            }
            now = utcnow()
            run = RunRow(
                run_id=run_id,
                thread_id=thread.thread_id,
                assistant_id=assistant.assistant_id,
                status="pending",
                metadata_=metadata,
                kwargs=kwargs,
                multitask_strategy=body.multitask_strategy,
                attempt=0,
                owner=owner,
                created_at=now + dt.timedelta(seconds=after),  # the queue takes it then
                updated_at=now,
            )
            session.add(run)
            thread.status = "busy"
            thread.metadata_ = {**(thread.metadata_ or {}), **stamp}
            thread.updated_at = now
        if superseded:  # interrupt / rollback: the runs in flight give way to this one
            action = "rollback" if body.multitask_strategy == "rollback" else "interrupt"
            for other_id in superseded:
                async with self.ctx.sessions() as session:
                    other = await session.get(RunRow, other_id)
                if other is not None:
                    await self.cancel(other, action)
        request = RunRequest(
            run_id=run_id,
            thread_id=run.thread_id,
            assistant_id=assistant.assistant_id,
            graph_id=assistant.graph_id,
            input=body.input,
            command=body.command,
            config=config,
            context=context,
            stream_mode=modes,
            stream_subgraphs=body.stream_subgraphs,
            interrupt_before=body.interrupt_before,
            interrupt_after=body.interrupt_after,
            checkpoint=checkpoint or None,
            temporary=temporary,
            owner=owner,
            metadata=metadata,
            webhook=body.webhook,
            durability=body.durability,
        )
        return run, request

    def _checked(self, body: RunCreate, thread_id: str | None) -> float:
        """Refuse what no run can be made of; the run's delay (``after_seconds``)."""
        if body.config and body.config.get("configurable") and body.context:
            raise ApiError(
                "Cannot specify both configurable and context. Prefer setting context alone."
            )
        if thread_id is None and body.command and "resume" in body.command:
            raise ApiError("You must provide a thread_id when resuming.")
        if thread_id is not None and not is_uuid(thread_id):
            raise Unprocessable("Invalid thread ID: must be a UUID")
        after = body.after_seconds or 0.0
        if not 0 <= after <= MAX_AFTER_SECONDS:
            raise Unprocessable(f"after_seconds must be between 0 and {MAX_AFTER_SECONDS:g}")
        if body.webhook and (problem := url_problem(body.webhook, self.ctx.webhook_policy)):
            raise Unprocessable(f"Invalid webhook: {problem}")
        return after

    async def _thread_for_run(
        self,
        session: AsyncSession,
        body: RunCreate,
        thread_id: str | None,
        fresh: bool,
        owner: str,
        stamp: dict[str, str],
    ) -> ThreadRow:
        if fresh:
            thread = repository.new_thread(
                thread_id or uuid7(), {**(body.metadata or {}), **stamp}, owner, status="busy"
            )
            session.add(thread)
            return thread
        assert thread_id is not None
        existing = await session.get(ThreadRow, thread_id, with_for_update=True)
        if existing is not None and existing.owner == owner and not existing.deleting:
            return existing
        if body.if_not_exists != "create" or existing is not None:
            raise NotFound("Thread or assistant not found.")
        thread = repository.new_thread(
            thread_id,
            {**(body.metadata or {}), **stamp},
            owner,
            status="busy",
            events_after=await self.ctx.bus.last_event_seq(),  # the id may have been used before
        )
        stored, _ = await repository.insert_thread(session, thread)  # a concurrent create wins
        if stored is None or stored.owner != owner or stored.deleting:
            raise NotFound("Thread or assistant not found.")
        return stored

    async def start(
        self, body: RunCreate, *, thread_id: str | None, owner: str, headers: Mapping[str, str]
    ) -> tuple[RunRow, EventSubscription]:
        """Write the run and subscribe to its events (at once), then queue it.

        Subscribing first means no event can be missed, whichever worker is quickest.
        """
        if thread_id is not None and not is_uuid(thread_id):
            raise Unprocessable("Invalid thread ID: must be a UUID")
        run_id, new_thread_id = uuid7(), None if thread_id else uuid7()
        subscribing = asyncio.create_task(
            self.ctx.bus.subscribe_events(thread_id or new_thread_id or "", run_id)
        )
        try:
            run, request = await self.create(
                body,
                thread_id=thread_id,
                owner=owner,
                headers=headers,
                run_id=run_id,
                new_thread_id=new_thread_id,
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await (await subscribing).close()
            raise
        subscription = await subscribing
        try:
            await self.submit(run, request)
        except BaseException:
            await subscription.close()
            raise
        return run, subscription

    async def submit(self, run: RunRow, request: RunRequest) -> None:
        """Publish the run request at once; if the bus refuses, the run fails.

        A run with ``after_seconds`` is published at once too: its row's ``created_at`` is when
        it may start, and a worker that gets it earlier hands it back to JetStream until then
        (``nak`` with that delay). Nothing waits in this process, so a restart loses nothing.
        """
        destination = Names(self.ctx.settings.namespace).run_requests
        attributes = {
            "messaging.system": "nats",
            "messaging.destination.name": destination,
            "messaging.operation.type": "publish",
            "messaging.message.id": run.run_id,
            "headwater.run_id": run.run_id,
            "headwater.thread_id": run.thread_id,
        }
        try:
            with tracer().start_as_current_span(
                f"{destination} publish", kind=SpanKind.PRODUCER, attributes=attributes
            ):
                await self.ctx.bus.submit_run(request, inject_headers({}))
            RUNS_CREATED.inc()
        except Exception as exc:
            async with self.ctx.sessions.begin() as session:
                await repository.finish_run(
                    session,
                    run_id=run.run_id,
                    thread_id=run.thread_id,
                    run_status="error",
                    thread_status="idle",
                    update_values=False,
                )
            raise Unavailable(f"Could not queue the run: {type(exc).__name__}") from exc

    async def cancel(self, run: RunRow, action: str) -> bool:
        """Stop a run (``rollback``: and remove it). False when it had already finished."""
        async with self.ctx.sessions.begin() as session:
            if action == "rollback":
                was_pending = await repository.delete_if_pending(session, run.run_id)
            else:
                was_pending = await repository.cancel_if_pending(session, run.run_id)
            if was_pending:
                await repository.thread_idle_unless_busy(session, run.thread_id)
            status = await repository.run_status(session, run.run_id)
        if was_pending:
            end = RunEnd(run_id=run.run_id, status="interrupted")
            await self.ctx.bus.publish_event_confirmed(
                run.thread_id, run.run_id, END_EVENT, encoder.encode(end)
            )
            return True
        if status == "running":
            await self.ctx.bus.send_control(
                RunControl(
                    run_id=run.run_id, action="rollback" if action == "rollback" else "interrupt"
                )
            )
            return True
        return False

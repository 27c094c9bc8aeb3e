"""Run admission: validate a run request, write the run row, hand it to the bus.

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
from headwater.api.shared.context import ApiContext
from headwater.api.shared.errors import ApiError, Conflict, NotFound, Unavailable, Unprocessable
from headwater.api.shared.schemas import RunCreate
from headwater.common.bus import EventSubscription
from headwater.common.db import repository
from headwater.common.db.models import AssistantRow, RunRow, ThreadRow, utcnow
from headwater.common.ids import assistant_id_for_graph, is_uuid, uuid7
from headwater.common.schemas import RunControl, RunEnd, RunRequest, encoder
from headwater.common.subjects import END_EVENT, Names
from headwater.common.telemetry.metrics import RUNS_CREATED
from headwater.common.telemetry.tracing import current_trace_id, inject_headers, tracer
from headwater.common.webhooks import url_problem

log = logging.getLogger(__name__)
STREAM_MODES = frozenset(
    {
        "values",
        "updates",
        "messages",
        "messages-tuple",
        "custom",
        "debug",
        "tasks",
        "checkpoints",
        "events",
    }
)
RESERVED_CONFIGURABLE = frozenset(
    {
        "langgraph_auth_user",
        "langgraph_auth_user_id",
        "langgraph_auth_permissions",
        "langgraph_request_id",
        "__request_start_time_ms__",
        "__after_seconds__",
        "__otel_traceparent__",
        "__otel_tracestate__",
    }
)
MAX_AFTER_SECONDS = 30 * 86400.0
CHECKPOINT_KEYS = frozenset({"checkpoint_id", "checkpoint_ns", "checkpoint_map"})
EXCLUDED_HEADERS = frozenset({"x-api-key", "x-tenant-id", "x-service-key"})
REJECTED = "Thread is already running a task. Wait for it to finish or choose a different multitask strategy."


def configurable_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """``x-*`` headers and ``user-agent`` go into ``config.configurable`` as langgraph-api does."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        if (lower.startswith("x-") and lower not in EXCLUDED_HEADERS) or lower == "user-agent":
            out[lower] = value
    return out


async def resolve_assistant(
    session: AsyncSession, graph_ids: list[str], assistant_id: str
) -> AssistantRow:
    """An assistant by UUID or by graph name."""
    if not is_uuid(assistant_id):
        if assistant_id not in graph_ids:
            raise Unprocessable(
                f"Invalid assistant: '{assistant_id}'. Must be either a UUID or one of the registered graphs: {graph_ids}"
            )
        assistant_id = assistant_id_for_graph(assistant_id)
    row = await session.get(AssistantRow, assistant_id)
    if row is None:
        raise NotFound("Thread or assistant not found.")
    return row


def stream_modes(body: RunCreate) -> list[str]:
    """The requested stream modes as a list; unknown modes are a 422."""
    modes = [body.stream_mode] if isinstance(body.stream_mode, str) else list(body.stream_mode)
    unknown = [m for m in modes if m not in STREAM_MODES]
    if unknown:
        raise Unprocessable(
            f"Invalid stream_mode {unknown}: expected any of {sorted(STREAM_MODES)}"
        )
    return modes or ["values"]


def start_checkpoint(body: RunCreate) -> dict[str, Any]:
    """Where in its thread the run starts: only ``checkpoint_id``, ``checkpoint_ns`` and
    ``checkpoint_map`` (a ``thread_id`` in there would point the run at another thread)."""
    checkpoint = {
        k: v for k, v in (body.checkpoint or {}).items() if k in CHECKPOINT_KEYS and v is not None
    }
    if body.checkpoint_id:
        checkpoint["checkpoint_id"] = body.checkpoint_id
    for key in ("checkpoint_id", "checkpoint_ns"):
        if key in checkpoint and not isinstance(checkpoint[key], str):
            raise Unprocessable(f"checkpoint.{key} must be a string")
    if "checkpoint_map" in checkpoint and not isinstance(checkpoint["checkpoint_map"], dict):
        raise Unprocessable("checkpoint.checkpoint_map must be an object")
    return checkpoint


def _merged_config(
    assistant: AssistantRow, thread: ThreadRow, body: RunCreate, headers: dict[str, str]
) -> dict[str, Any]:
    request_config = dict(body.config or {})
    configurable = {
        **(assistant.config or {}).get("configurable", {}),
        **(thread.config or {}).get("configurable", {}),
        **headers,
        **{
            k: v
            for k, v in (body.context or request_config.get("configurable", {})).items()
            if k not in RESERVED_CONFIGURABLE  # the request's context is mirrored, as upstream
        },
    }
    config = {**(assistant.config or {}), **(thread.config or {}), **request_config}
    config["configurable"] = configurable
    return config


def run_context(assistant: AssistantRow, body: RunCreate) -> dict[str, Any]:
    """The run's runtime context as langgraph-api merges it: the assistant's ``context``
    under the request's (its ``context``, else its ``config.configurable``)."""
    requested = body.context or {
        k: v
        for k, v in ((body.config or {}).get("configurable") or {}).items()
        if k not in RESERVED_CONFIGURABLE
    }
    return {**(assistant.context or {}), **requested}


class RunAdmission:
    """Creates runs (row + bus request) and cancels them."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    async def create(  # noqa: C901 - to split (issue 14)
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
            config = _merged_config(assistant, thread, body, configurable_headers(headers))
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

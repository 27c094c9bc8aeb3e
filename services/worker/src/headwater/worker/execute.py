"""Executing one run: claim it, stream the graph onto the bus, record the outcome."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import logging
from typing import Any, Literal

import msgspec
from langchain_core.runnables import RunnableConfig
from langgraph.pregel import Pregel
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.common.bus import Bus, RunDelivery
from headwater.common.codec import dumps, loads
from headwater.common.db import repository
from headwater.common.db.models import utcnow
from headwater.common.outages import is_outage, ride_out
from headwater.common.schemas import RunEnd, RunRequest, encoder
from headwater.common.subjects import END_EVENT
from headwater.common.telemetry.logs import RUN_ID, THREAD_ID
from headwater.common.telemetry.metrics import RUN_ATTEMPTS, RUNS_FINISHED, WORKER_RUNS_IN_USE
from headwater.common.telemetry.tracing import extract_context, tracer
from headwater.worker.failures import WORKER_LOST, client_error, record_failure
from headwater.worker.memory_store import STORE_OWNER
from headwater.worker.presence import RunClock, WorkerPresence
from headwater.worker.registry import GraphRegistry
from headwater.worker.run_inputs import graph_input, run_config
from headwater.worker.savers import Baseline, ThreadSaver
from headwater.worker.start_priority import RunStarts
from headwater.worker.state import thread_interrupts
from headwater.worker.stream_parts import PartEncoder, graph_stream_modes
from headwater.worker.telemetry import RunTelemetry
from headwater.worker.webhooks import WebhookSender

log = logging.getLogger(__name__)
QUEUED_RETRY_S = (0.05, 0.1, 0.2, 0.4)
"""How soon a run waiting for its thread's earlier runs is delivered again, by how many times
it was delivered (then every last value): a run queued behind a short one starts soon after,
and one behind a long one costs a delivery every 0.4 s, not a worker slot."""
RELEASE_TIMEOUT_S = 2.0
RUN_STARTED: contextvars.ContextVar[dt.datetime] = contextvars.ContextVar("headwater_run_started")
"""When this attempt of the run being executed started (its webhook reports it)."""


class RunTimedOut(Exception):
    """The run took longer than ``HEADWATER_RUN_TIMEOUT_S``."""


class DependencyDown(Exception):
    """The database or the bus stayed down longer than the retry budget while the run was
    being started or its outcome recorded; the delivery goes back to the queue for later."""


class RunCancelled(Exception):
    """A client asked to stop the run (``action`` says how)."""

    def __init__(self, action: str) -> None:
        super().__init__(action)
        self.action = action


def run_context(graph: Pregel[Any, Any, Any, Any], context: dict[str, Any] | None) -> Any:
    """The context a run passes to its graph, as langgraph-api does: always a dict (so a
    ``context_schema``'s defaults apply), without keys the schema does not declare."""
    context = dict(context or {})
    if not context or graph.context_schema is None:
        return context
    try:
        schema = graph.get_context_jsonschema()
    except Exception:  # a schema that cannot be drawn filters nothing
        log.debug("no context schema for filtering", exc_info=True)
        return context
    known = (schema or {}).get("properties")
    if not known:
        return context
    return {k: v for k, v in context.items() if k in known}


class RunExecutor:
    """Runs deliveries; one instance per worker process."""

    def __init__(
        self,
        bus: Bus,
        sessions: async_sessionmaker[AsyncSession],
        registry: GraphRegistry,
        checkpointer: ThreadSaver,
        *,
        heartbeat_s: float,
        destination: str = "runs.requests",
        run_timeout_s: float = 86400.0,
        webhooks: WebhookSender | None = None,
        db_retry_s: float = 30.0,
        bus_retry_s: float = 30.0,
        presence: WorkerPresence | None = None,
        max_attempts: int | None = 3,
        start_priority: bool = False,
    ) -> None:
        self.bus = bus
        self.sessions = sessions
        self.registry = registry
        self.checkpointer = checkpointer
        self.heartbeat_s = heartbeat_s
        self.destination = destination
        self.run_timeout_s = run_timeout_s
        self.webhooks = webhooks
        self.db_retry_s = db_retry_s
        self.bus_retry_s = bus_retry_s
        self.presence = presence
        self.max_attempts = max_attempts
        # A run held by a worker whose heartbeat is younger than this is not taken over.
        self.stale_after_s = presence.stale_after_s if presence is not None else 0.0
        # One claim at a time per worker on SQLite (its snapshots); PostgreSQL's claim locks
        # the thread row itself, and serialising there made the 50th run of a burst wait for
        # 49 claims, each behind the token work of the runs already streaming (TTFT at C=50).
        bind = sessions.kw.get("bind")
        serial = bind is None or bind.dialect.name == "sqlite"
        self._claiming: contextlib.AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if serial else contextlib.nullcontext()
        )
        self._active: dict[str, list[RunDelivery]] = {}
        """Runs executing here, with every delivery of each (a redelivery joins the first)."""
        self.start_priority = start_priority
        """Streaming runs make way for starting ones (``RunStarts``)."""
        self._starts: RunStarts | None = None
        self._start_tokens: dict[str, object] = {}

    async def execute(self, delivery: RunDelivery) -> None:
        """Run one delivery to a final status; on worker shutdown hand it back (nak)."""
        request = delivery.request
        RUN_ID.set(request.run_id)
        THREAD_ID.set(request.thread_id)
        STORE_OWNER.set(request.owner)
        attributes: dict[str, Any] = {
            "messaging.system": "nats",
            "messaging.destination.name": self.destination,
            "messaging.operation.type": "process",
            "messaging.message.id": request.run_id,
            "headwater.run_id": request.run_id,
            "headwater.thread_id": request.thread_id,
            "headwater.delivered": delivery.attempt,
        }
        RUN_ATTEMPTS.inc()
        WORKER_RUNS_IN_USE.inc()
        if self._starts is None and self.start_priority:
            self._starts = RunStarts()  # here: born in the running loop
        start = self._starts.begin() if self._starts is not None else None
        if start is not None:
            self._start_tokens.setdefault(request.run_id, start)
        try:
            with tracer().start_as_current_span(
                f"{self.destination} process",
                context=extract_context(delivery.headers),
                kind=SpanKind.CONSUMER,
                attributes=attributes,
            ):
                await self._execute(delivery)
        finally:
            if self._starts is not None and start is not None:
                self._starts.started(start)
                if self._start_tokens.get(request.run_id) is start:
                    del self._start_tokens[request.run_id]
            WORKER_RUNS_IN_USE.dec()

    async def _execute(self, delivery: RunDelivery) -> None:
        request = delivery.request
        copies = self._active.get(request.run_id)
        if copies is not None:
            # JetStream redelivered a run this worker is executing (its acknowledgement timer
            # ran out while NATS was away): keep the copy with the run, which beats for it and
            # acknowledges it with the original at the end.
            log.info("run %s is already running here; keeping the redelivered copy", request.run_id)
            copies.append(delivery)
            return
        self._active[request.run_id] = [delivery]
        try:
            await self._execute_held(delivery)
        finally:
            del self._active[request.run_id]
            if self.presence is not None:
                self.presence.release(request.run_id)

    async def _settle(
        self, run_id: str, verb: Literal["ack", "nak"], delay: float | None = None
    ) -> None:
        """Acknowledge (or hand back) every delivery of the run this worker holds."""
        for copy in self._active.get(run_id, []):
            if verb == "ack":
                await copy.ack()
            else:
                with contextlib.suppress(Exception):
                    await copy.nak(delay=delay)

    async def _execute_held(self, delivery: RunDelivery) -> None:
        request = delivery.request
        # Heartbeats from the start: the claim can wait (one at a time per worker, a slow or
        # unreachable database), and a delivery without heartbeats is redelivered after
        # ack_wait, a few seconds. Stopped before every ack or nak.
        heartbeat = asyncio.create_task(self._heartbeat(request.run_id))
        try:
            # Listen for cancellation before the run can be seen running; claim meanwhile.
            control, claim = await asyncio.gather(
                self.bus.subscribe_control(request.run_id),
                self._claim(request.run_id, delivery.attempt),
            )
        except BaseException:
            heartbeat.cancel()
            raise
        try:
            if claim.outcome in ("busy", "not_due"):
                # Not this run's turn (an earlier run of its thread is not done), or not its
                # time (after_seconds): JetStream brings it back then; no slot is held.
                heartbeat.cancel()
                if claim.outcome == "busy":
                    delay = QUEUED_RETRY_S[min(delivery.attempt, len(QUEUED_RETRY_S)) - 1]
                else:
                    delay = claim.due_in_s
                await self._settle(request.run_id, "nak", delay)
                return
            if claim.outcome == "exhausted":
                heartbeat.cancel()
                await self._fail_exhausted(request, claim.attempt)
                await self._settle(request.run_id, "ack")
                return
            if claim.outcome in ("held", "finishing"):
                # Fencing: the worker running it is alive (cut off from NATS for a while, its
                # acknowledgement timer ran out). Come back once it would count as dead if it
                # stopped beating now; while it beats it keeps the run. A finished run's holder
                # that still beats is storing the run's last events: announcing the end now
                # would store it before them.
                delay = max(self.heartbeat_s, self.stale_after_s - claim.holder_age_s + 0.1)
                log.info(
                    "run %s is %s by a live worker; retrying in %.1f s",
                    request.run_id,
                    "held" if claim.outcome == "held" else "being finished",
                    delay,
                )
                heartbeat.cancel()
                await self._settle(request.run_id, "nak", delay)
                return
            if claim.outcome == "duplicate":
                log.info("run %s is already running elsewhere; dropping this copy", request.run_id)
                heartbeat.cancel()
                await self._settle(request.run_id, "ack")
                return
            if claim.outcome == "final":
                await self._drop_finished(request)
                heartbeat.cancel()
                await self._settle(request.run_id, "ack")
                return
            clock = self.presence.hold(request.run_id) if self.presence is not None else None
            try:
                RUN_STARTED.set(utcnow())
                await self._supervise(request, claim.attempt, control, clock)
            except DependencyDown:
                # Not a failure of the run: a later delivery finds the run final and announces
                # its end, or (still running) continues it from its last checkpoint.
                log.error("run %s: a dependency is down; handing the run back", request.run_id)
                heartbeat.cancel()
                await self._release(request.run_id)
                await self._settle(request.run_id, "nak", self.heartbeat_s)
                return
            heartbeat.cancel()
            await self._settle(request.run_id, "ack")
        except asyncio.CancelledError:
            # Worker shutdown: another worker continues from the last checkpoint.
            heartbeat.cancel()
            if claim.outcome == "claimed":
                await self._release(request.run_id)
            await self._settle(request.run_id, "nak")
            raise
        finally:
            heartbeat.cancel()
            await control.close()

    async def _release(self, run_id: str) -> None:
        """Before handing a claimed run back: stop beating for it and say so in its row, so
        the next worker takes it at once (fencing would hold it back while we beat)."""
        if self.presence is None:
            return
        self.presence.release(run_id)
        worker_id = self.presence.worker_id

        async def release() -> None:
            async with self.sessions.begin() as session:
                await repository.release_run(session, run_id, worker_id)

        try:  # best effort: without it the run is taken over once our heartbeat is stale
            await asyncio.wait_for(release(), RELEASE_TIMEOUT_S)
        except Exception:
            log.warning("run %s: could not release it", run_id, exc_info=True)

    async def _claim(self, run_id: str, delivered: int) -> repository.Claim:
        worker_id = self.presence.worker_id if self.presence is not None else None

        async def claim() -> repository.Claim:
            async with self._claiming, self.sessions.begin() as session:
                return await repository.claim_run(
                    session,
                    run_id,
                    delivered,
                    worker_id=worker_id,
                    stale_after_s=self.stale_after_s if worker_id else None,
                    max_attempts=self.max_attempts,
                )

        return await ride_out(claim, what=f"claiming run {run_id}", budget_s=self.db_retry_s)

    async def _publish_end(self, request: RunRequest, end: RunEnd) -> None:
        """The run's end event, confirmed by the stream; retried while NATS is away."""
        data = encoder.encode(end)

        async def publish() -> int:
            return await self.bus.publish_event_confirmed(
                request.thread_id, request.run_id, END_EVENT, data
            )

        await ride_out(
            publish, what=f"announcing the end of run {request.run_id}", budget_s=self.bus_retry_s
        )

    async def _fail_exhausted(self, request: RunRequest, attempts: int) -> None:
        """Every attempt of the run started and died with its worker: fail it visibly."""
        log.error(
            "run %s failed: its worker stopped during all %d attempts", request.run_id, attempts
        )
        await record_failure(
            self.bus,
            self.sessions,
            thread_id=request.thread_id,
            run_id=request.run_id,
            error=WORKER_LOST,
            only_if_active=True,
            db_retry_s=self.db_retry_s,
            bus_retry_s=self.bus_retry_s,
        )

    async def _drop_finished(self, request: RunRequest) -> None:
        """A redelivered request of a run that is final or gone: re-announce its end."""

        async def read_status() -> str | None:
            async with self.sessions() as session:
                return await repository.run_status(session, request.run_id)

        status = await ride_out(
            read_status, what=f"reading run {request.run_id}", budget_s=self.db_retry_s
        )
        log.info("run %s is %s; dropping the delivery", request.run_id, status or "gone")
        if status is not None:
            await self._publish_end(request, RunEnd(run_id=request.run_id, status=status))

    async def _heartbeat(self, run_id: str) -> None:
        """JetStream's in-progress for every delivery of the run held here."""
        while True:
            await asyncio.sleep(self.heartbeat_s)
            for copy in list(self._active.get(run_id, [])):
                try:
                    await copy.in_progress()
                except Exception:
                    log.warning("heartbeat for %s failed", run_id, exc_info=True)

    async def _supervise(
        self, request: RunRequest, attempt: int, control: Any, clock: RunClock | None
    ) -> None:
        attributes = {
            "langgraph.graph_id": request.graph_id,
            "headwater.run_id": request.run_id,
            "headwater.thread_id": request.thread_id,
        }
        with tracer().start_as_current_span(
            f"graph {request.graph_id}", attributes=attributes
        ) as span:
            config = run_config(request, attempt)
            config["callbacks"] = [RunTelemetry(span, traced=span.is_recording(), clock=clock)]
            await self._run_graph(request, attempt, control, config, clock)

    async def _run_graph(
        self,
        request: RunRequest,
        attempt: int,
        control: Any,
        config: RunnableConfig,
        clock: RunClock | None,
    ) -> None:
        graph_scope = contextlib.AsyncExitStack()  # a graph factory's context lasts the run
        try:
            await self._run_graph_in(graph_scope, request, attempt, control, config, clock)
        finally:
            try:
                await graph_scope.aclose()
            except Exception:
                log.exception("run %s: leaving graph %r failed", request.run_id, request.graph_id)

    async def _run_graph_in(
        self,
        graph_scope: contextlib.AsyncExitStack,
        request: RunRequest,
        attempt: int,
        control: Any,
        config: RunnableConfig,
        clock: RunClock | None,
    ) -> None:
        start = (request.checkpoint or {}).get("checkpoint_id")
        opening = self.registry.open(
            request.graph_id, config, context=request.context, user_id=request.owner
        )
        # What the thread holds before the run, in case the run is rolled back. The graph is
        # opened in this task: a factory's context manager is left in the task it entered.
        holding = asyncio.ensure_future(
            ride_out(
                lambda: self.checkpointer.baseline(request.thread_id, start),
                what=f"reading thread {request.thread_id}",
                budget_s=self.db_retry_s,
            )
        )
        try:
            graph = await graph_scope.enter_async_context(opening)
            baseline = await holding
        except Exception as exc:
            holding.cancel()
            if is_outage(exc):
                raise DependencyDown(str(exc)) from exc
            log.exception("run %s: cannot start graph %r", request.run_id, request.graph_id)
            await self._fail(request, exc)
            return
        streaming = asyncio.create_task(self._stream(graph, request, attempt, config))
        stopping = asyncio.create_task(control.get())
        try:
            await asyncio.wait(
                {streaming, stopping},
                timeout=self.run_timeout_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
        except asyncio.CancelledError:
            streaming.cancel()
            stopping.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await streaming
            raise
        outcome: BaseException | None
        if not stopping.done() and not streaming.done():
            stopping.cancel()
            streaming.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await streaming
            outcome = RunTimedOut(f"the run exceeded its {self.run_timeout_s:g} s limit")
        elif stopping.done() and not streaming.done():
            streaming.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await streaming
            outcome = RunCancelled(stopping.result().action)
        else:
            outcome = streaming.exception()
            late = stopping.result() if stopping.done() else None
            if outcome is None and late is not None and late.action == "rollback":
                outcome = RunCancelled("rollback")  # asked as the run ended: still undo it
            stopping.cancel()
        if outcome is not None and is_outage(outcome):
            # The graph stopped because the database or the bus stayed away (its checkpoint
            # writes retry first): not the run's fault. The next attempt continues from the
            # last checkpoint; max_deliver bounds how often.
            log.warning("run %s stopped by an outage", request.run_id, exc_info=outcome)
            raise DependencyDown(str(outcome)) from outcome
        try:
            await self._finish(graph, request, outcome, baseline, clock)
        except Exception as exc:
            if is_outage(exc):  # an outage outlasted the retries: never record it as the run's
                raise DependencyDown(str(exc)) from exc
            log.exception("run %s: recording the outcome failed", request.run_id)
            await self._fail(request, exc)

    async def _fail(self, request: RunRequest, exc: BaseException) -> None:
        """Record a run as failed without touching its checkpoints; tell the readers."""
        error = client_error(exc)
        await record_failure(
            self.bus,
            self.sessions,
            thread_id=request.thread_id,
            run_id=request.run_id,
            error=error,
            db_retry_s=self.db_retry_s,
            bus_retry_s=self.bus_retry_s,
        )

    async def _stream(
        self,
        graph: Pregel[Any, Any, Any, Any],
        request: RunRequest,
        attempt: int,
        config: RunnableConfig,
    ) -> None:
        bus, thread_id, run_id = self.bus, request.thread_id, request.run_id
        await bus.publish_event(
            thread_id, run_id, "metadata", dumps({"run_id": run_id, "attempt": attempt})
        )
        payload = graph_input(request)
        if attempt > 1 and await self._has_own_checkpoint(request):
            payload = None  # continue from this run's last checkpoint
        parts = PartEncoder(request.stream_mode)
        kwargs: dict[str, Any] = {
            "stream_mode": graph_stream_modes(request.stream_mode),
            "subgraphs": True,
            "interrupt_before": request.interrupt_before,
            "interrupt_after": request.interrupt_after,
        }
        kwargs["context"] = run_context(graph, request.context)
        if request.durability is not None:
            kwargs["durability"] = request.durability
        published = 0
        try:
            if "events" in request.stream_mode:
                # LangChain's event stream replaces the graph's stream modes (as in langgraph-api).
                del kwargs["stream_mode"], kwargs["subgraphs"]
                async for item in graph.astream_events(payload, config, version="v2", **kwargs):
                    if "langsmith:hidden" in (item.get("tags") or []):
                        continue
                    await bus.publish_event(thread_id, run_id, "events", dumps(item))
                    published += 1
                return
            starts, start = self._starts, self._start_tokens.get(run_id)
            async for namespace, mode, chunk in graph.astream(payload, config, **kwargs):
                if namespace and not request.stream_subgraphs:
                    continue
                for event, data in parts.encode(namespace, mode, chunk):
                    await bus.publish_event(thread_id, run_id, event, data)
                    published += 1
                if starts is not None:
                    if start is not None:
                        starts.started(start)  # its first part is out
                        start = None
                    else:
                        await starts.make_way()
        finally:
            # Per-token publishes are counted on the graph span, not one span per token.
            trace.get_current_span().set_attribute("headwater.events_published", published)

    async def _has_own_checkpoint(self, request: RunRequest) -> bool:
        latest = await self.checkpointer.aget_tuple(
            {"configurable": {"thread_id": request.thread_id, "checkpoint_ns": ""}}
        )
        return latest is not None and latest.metadata.get("run_id") == request.run_id

    async def _finish(
        self,
        graph: Pregel[Any, Any, Any, Any],
        request: RunRequest,
        outcome: BaseException | None,
        baseline: Baseline,
        clock: RunClock | None = None,
    ) -> None:
        """Record the outcome; a rolled-back run leaves no checkpoint, write or row behind.

        Every write waits out a database or bus outage (``db_retry_s``, ``bus_retry_s``):
        a run is never recorded as failed because its outcome could not be written at once.
        """
        run_id = request.run_id
        rolled_back = isinstance(outcome, RunCancelled) and outcome.action == "rollback"
        if rolled_back:
            await ride_out(
                lambda: self.checkpointer.arollback(request.thread_id, run_id, baseline),
                what=f"rolling back run {run_id}",
                budget_s=self.db_retry_s,
            )
        state_config: RunnableConfig = {"configurable": {"thread_id": request.thread_id}}
        snapshot = await ride_out(
            lambda: graph.aget_state(state_config),
            what=f"reading the state of thread {request.thread_id}",
            budget_s=self.db_retry_s,
        )
        values = loads(dumps(snapshot.values))  # plain JSON for the thread row
        interrupts = thread_interrupts(snapshot)
        error: dict[str, str] | None = None
        if outcome is None:
            run_status = "success"
            thread_status = "interrupted" if snapshot.next else "idle"
            pending = [i for items in interrupts.values() for i in items]
            result: Any = (
                {**values, "__interrupt__": pending}
                if pending and isinstance(values, dict)
                else values
            )
        elif isinstance(outcome, RunTimedOut):
            error = {"error": "TimeoutError", "message": str(outcome)}
            await self.bus.publish_event(request.thread_id, run_id, "error", dumps(error))
            run_status = "timeout"
            thread_status = "interrupted" if snapshot.next else "idle"
            result = {"__error__": error}
        elif isinstance(outcome, RunCancelled):
            run_status = "interrupted"
            thread_status = "interrupted" if snapshot.next else "idle"
            result = values
        else:
            log.warning("run %s failed", run_id, exc_info=outcome)
            error = client_error(outcome)
            await self.bus.publish_event(request.thread_id, run_id, "error", dumps(error))
            run_status, thread_status = "error", "error"
            result = {"__error__": error}

        async def record() -> None:
            async with self.sessions.begin() as session:
                await repository.finish_run(
                    session,
                    run_id=run_id,
                    thread_id=request.thread_id,
                    run_status=run_status,
                    thread_status=None if request.temporary else thread_status,
                    values=values,
                    interrupts=interrupts,
                    error=error,
                    first_token_at=clock.first_token_at if clock is not None else None,
                )
                if rolled_back:
                    await repository.delete_run(session, run_id)

        await ride_out(record, what=f"recording run {run_id}", budget_s=self.db_retry_s)
        RUNS_FINISHED.labels("rolled_back" if rolled_back else run_status).inc()
        end = RunEnd(run_id=run_id, status=run_status, result=msgspec.Raw(dumps(result)))
        await self._publish_end(request, end)
        if request.webhook and self.webhooks is not None and not rolled_back:
            try:
                await self.webhooks.send(
                    request.webhook,
                    run_id,
                    started_at=RUN_STARTED.get(utcnow()),
                    values=values,
                    error=error,
                )
            except Exception:  # the run is recorded and announced; the webhook is best effort
                log.warning("run %s: webhook not sent", run_id, exc_info=True)
        if request.temporary:  # stateless run: its thread goes once the client has the end

            async def forget() -> None:
                async with self.sessions.begin() as session:
                    await repository.delete_thread(session, request.thread_id)
                await self.checkpointer.adelete_thread(request.thread_id)

            await ride_out(
                forget, what=f"deleting thread {request.thread_id}", budget_s=self.db_retry_s
            )

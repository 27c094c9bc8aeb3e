"""The NATS JetStream Bus, for the cluster.

- run requests: a work-queue stream, one durable pull consumer shared by all workers, one
  subject per run (so the stream tells whether a run's request is still there),
  ``Nats-Msg-Id = run_id`` so a resubmitted run is stored once;
- run events: a limits stream with a retention window, subject ``<ns>.events.<thread>.<run>``;
  workers publish a run's parts in batches (one message: the parts that arrived within a
  millisecond or two, framed by ``bus.framing``), each publish confirmed by JetStream and
  de-duplicated by ``Nats-Msg-Id``, retried with backoff for ``publish_retry`` seconds so a
  NATS restart loses none; readers use an ordered push consumer that starts at the message
  of an event id (the SSE ``id``), filtered on one run or on a whole thread;
- control: core subjects; graph questions: core request-reply in a queue group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import BadRequestError, NotFoundError

from headwater.common.bus.base import (
    DEFAULT_BUFFER_BYTES,
    Bus,
    ControlSubscription,
    EventSubscription,
    RequestHandler,
    RunDelivery,
)
from headwater.common.bus.batching import EventBatcher
from headwater.common.bus.framing import (
    Parts,
    encode_parts,
    event_id,
    last_id_of,
    message_seq,
)
from headwater.common.bus.nats_subscriptions import NatsControl, NatsDelivery, NatsEvents
from headwater.common.bus.options import event_options
from headwater.common.schemas import (
    RunControl,
    RunRequest,
    encoder,
)
from headwater.common.settings import Settings
from headwater.common.subjects import FRAME_HEADER, FRAME_VERSION, Names

log = logging.getLogger(__name__)

RETRYABLE_PUBLISH_ERRORS: tuple[type[BaseException], ...] = (
    TimeoutError,  # nats.errors.TimeoutError is one too
    nats.errors.NoRespondersError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.StaleConnectionError,
    nats.js.errors.ServiceUnavailableError,
    nats.js.errors.ServerError,
    nats.js.errors.NoStreamResponseError,
)
"""What a publish may meet while NATS restarts or is busy: try again after a pause."""


class NatsBus(Bus):
    """Bus over NATS JetStream. Build it in a lifespan and ``await start()``."""

    def __init__(
        self,
        url: str,
        names: Names,
        *,
        ack_wait: float = 30.0,
        retention: float = 3600.0,
        client_name: str = "headwater",
        replicas: int = 1,
        publish_retry: float = 60.0,
        batch_window: float = 0.001,
        max_pending_bytes: int = 1 << 20,
        buffer_bytes: int = DEFAULT_BUFFER_BYTES,
    ) -> None:
        self.url = url
        self.names = names
        self.ack_wait = ack_wait
        self.retention = retention
        self.client_name = client_name
        self.replicas = replicas
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._pull: JetStreamContext.PullSubscription | None = None
        self._request_subs: list[Subscription] = []
        self._answering: set[asyncio.Task[None]] = set()
        self.publish_retry = publish_retry
        self.buffer_bytes = buffer_bytes
        self._batch_window = batch_window
        self._max_pending_bytes = max_pending_bytes
        self._batcher: EventBatcher | None = None
        self._publisher = uuid.uuid4().hex[:12]
        self._messages_sent = 0

    @property
    def nc(self) -> NatsClient:
        assert self._nc is not None, "NatsBus.start() was not awaited"
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        assert self._js is not None, "NatsBus.start() was not awaited"
        return self._js

    @classmethod
    def from_settings(cls, settings: Settings, client_name: str) -> NatsBus:
        """The cluster bus of a Headwater process: the settings' server, namespace and limits
        (the one place a ``NatsBus`` is built from settings)."""
        return cls(
            settings.nats_url,
            Names(settings.namespace),
            ack_wait=settings.ack_wait_s,
            retention=settings.event_retention_s,
            client_name=client_name,
            replicas=settings.stream_replicas,
            **event_options(settings),
        )

    async def start(self) -> None:
        refused = 0  # failed reconnect attempts of this outage: the first one is logged

        async def on_error(exc: Exception) -> None:
            nonlocal refused
            if isinstance(exc, OSError):
                refused += 1
                if refused > 1:
                    return
            log.warning("nats: %s", exc)

        async def on_disconnected() -> None:
            log.warning("nats: disconnected; reconnecting")

        async def on_reconnected() -> None:
            nonlocal refused
            log.info("nats: reconnected after %d failed attempts", refused)
            refused = 0

        # Reconnect forever, every half second: an outage of any length is waited out and
        # the durable consumer and subscriptions resume on the same connection object. Pings
        # every 5 s notice a server that vanished without closing the socket within ~15 s.
        self._nc = await nats.connect(
            self.url,
            name=self.client_name,
            error_cb=on_error,
            disconnected_cb=on_disconnected,
            reconnected_cb=on_reconnected,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=5,
            ping_interval=5,
            max_outstanding_pings=3,
        )
        self._js = self._nc.jetstream()
        await self.ensure_streams()

    async def ensure_streams(self) -> None:
        """Create or update the RUNS and EVENTS streams and the workers' consumer (idempotent)."""
        runs = js_api.StreamConfig(
            name=self.names.runs_stream,
            subjects=[self.names.all_run_requests],
            retention=js_api.RetentionPolicy.WORK_QUEUE,
            storage=js_api.StorageType.FILE,
            num_replicas=self.replicas,
            duplicate_window=120.0,
        )
        events = js_api.StreamConfig(
            name=self.names.events_stream,
            subjects=[self.names.all_events],
            retention=js_api.RetentionPolicy.LIMITS,
            storage=js_api.StorageType.FILE,
            num_replicas=self.replicas,
            max_age=self.retention,
            # A retried batch (its ack was lost) must be recognised for as long as we retry.
            duplicate_window=min(self.retention, max(10.0, self.publish_retry + 10.0)),
        )
        for config in (runs, events):
            await self._add_or_update(config)
        consumer = js_api.ConsumerConfig(
            durable_name=self.names.workers_consumer,
            ack_policy=js_api.AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            # Unbounded: a delivery handed back because the run must wait (its thread is busy,
            # its after_seconds not reached, a live worker holds it) is not an attempt. The
            # worker counts attempts when it claims a run (HEADWATER_MAX_DELIVER bounds them).
            max_deliver=-1,
            filter_subject=self.names.all_run_requests,
            max_ack_pending=10_000,
        )
        try:
            await self.js.add_consumer(self.names.runs_stream, consumer)
        except BadRequestError:
            await self._replace_outdated_consumer(consumer)

    async def _replace_outdated_consumer(self, consumer: js_api.ConsumerConfig) -> None:
        """A consumer from an older Headwater filters another subject: it would never see a
        run. Replace it; unacknowledged requests stay in the stream and are delivered again."""
        name = self.names.workers_consumer
        info = await self.js.consumer_info(self.names.runs_stream, name)
        if info.config.filter_subject == consumer.filter_subject:
            log.info("consumer %s exists with another config; keeping it", name)
            return
        log.warning("replacing consumer %s (filter %s)", name, info.config.filter_subject)
        with contextlib.suppress(NotFoundError):
            await self.js.delete_consumer(self.names.runs_stream, name)
        with contextlib.suppress(BadRequestError):  # another replica re-created it first
            await self.js.add_consumer(self.names.runs_stream, consumer)

    async def _add_or_update(self, config: js_api.StreamConfig) -> None:
        try:
            await self.js.add_stream(config)
        except BadRequestError:
            await self.js.update_stream(config)

    async def close(self) -> None:
        if self._nc is None:
            return
        await self.stop_serving()
        if self._batcher is not None:
            await self._batcher.flush(timeout=5.0)
        nc, self._nc = self._nc, None
        with contextlib.suppress(Exception):
            await nc.flush(timeout=2)  # what was published reaches the server
        if not nc.is_closed:
            await nc.close()

    async def healthy(self) -> bool:
        if self._nc is None or not self._nc.is_connected:
            return False
        try:
            await self.js.stream_info(self.names.runs_stream)
        except Exception:  # noqa: BLE001 - any failure means not ready
            return False
        return True

    async def queue_stats(self) -> tuple[int, int]:
        info = await self.js.consumer_info(self.names.runs_stream, self.names.workers_consumer)
        return int(info.num_pending or 0), int(info.num_ack_pending or 0)

    async def delete_streams(self) -> None:
        """Remove this namespace's streams (test clean-up)."""
        for name in (self.names.runs_stream, self.names.events_stream):
            with contextlib.suppress(NotFoundError):
                await self.js.delete_stream(name)

    # runs -----------------------------------------------------------------
    async def submit_run(
        self, request: RunRequest, headers: Mapping[str, str] | None = None
    ) -> None:
        hdrs: dict[str, Any] = dict(headers or {})
        hdrs["Nats-Msg-Id"] = request.run_id
        await self.js.publish(
            self.names.run_request(request.run_id),
            encoder.encode(request),
            stream=self.names.runs_stream,
            headers=hdrs,
        )

    async def fetch_runs(self, batch: int, timeout: float) -> list[RunDelivery]:
        if self._pull is None:
            self._pull = await self.js.pull_subscribe_bind(
                self.names.workers_consumer, stream=self.names.runs_stream
            )
        try:
            msgs = await self._pull.fetch(batch, timeout=timeout)
        except TimeoutError:
            return []
        out: list[RunDelivery] = []
        for msg in msgs:
            try:
                out.append(NatsDelivery(msg))
            except ValueError:
                log.error("terminating undecodable run request %s", msg.metadata.sequence)
                await msg.term()
        return out

    async def has_run_request(self, run_id: str) -> bool:
        try:
            await self.js.get_last_msg(self.names.runs_stream, self.names.run_request(run_id))
        except NotFoundError:
            return False
        return True

    # events ---------------------------------------------------------------
    @property
    def batcher(self) -> EventBatcher:
        """The outboxes that batch each run's parts (made on first use, in the loop)."""
        if self._batcher is None:
            self._batcher = EventBatcher(
                self._store_batch,
                window=self._batch_window,
                max_pending_bytes=self._max_pending_bytes,
            )
        return self._batcher

    async def publish_event(
        self,
        thread_id: str,
        run_id: str,
        event: str,
        data: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        await self.batcher.publish(thread_id, run_id, event, data, headers)

    async def publish_event_confirmed(
        self,
        thread_id: str,
        run_id: str,
        event: str,
        data: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        return await self.batcher.publish(thread_id, run_id, event, data, headers, confirm=True)

    async def _store_batch(
        self, thread_id: str, run_id: str, parts: Parts, headers: Mapping[str, str]
    ) -> int:
        """Publish one message of parts and await JetStream's ack, retrying with backoff
        for ``publish_retry`` seconds; the same ``Nats-Msg-Id`` makes a retry store it once."""
        self._messages_sent += 1
        hdrs: dict[str, str] = {
            **headers,
            FRAME_HEADER: FRAME_VERSION,
            "Nats-Msg-Id": f"{self._publisher}-{self._messages_sent}",
        }
        body = encode_parts(parts)
        subject = self.names.run_events(thread_id, run_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.publish_retry
        pause = 0.05
        while True:
            try:
                ack = await self.js.publish(
                    subject, body, stream=self.names.events_stream, headers=hdrs
                )
            except RETRYABLE_PUBLISH_ERRORS as exc:
                if loop.time() + pause > deadline:
                    raise
                log.info("publishing events of run %s: %r; retrying", run_id, exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)
                continue
            return int(ack.seq)

    async def subscribe_events(
        self, thread_id: str, run_id: str, after_seq: int = 0
    ) -> EventSubscription:
        return await self._subscribe(self.names.run_events(thread_id, run_id), after_seq)

    async def subscribe_thread_events(
        self, thread_id: str, after_seq: int | None = None
    ) -> EventSubscription:
        return await self._subscribe(self.names.thread_events(thread_id), after_seq)

    async def purge_thread_events(self, thread_id: str) -> None:
        await self.js.purge_stream(
            self.names.events_stream, subject=self.names.thread_events(thread_id)
        )

    async def last_event_seq(self) -> int:
        info = await self.js.stream_info(self.names.events_stream)
        last = int(info.state.last_seq or 0)
        return last_id_of(last) if last else 0

    async def first_event_seq(self, thread_id: str, run_id: str) -> int | None:
        subject = self.names.run_events(thread_id, run_id)
        try:
            first = await self.js.get_msg(
                self.names.events_stream, seq=1, subject=subject, next=True
            )
        except NotFoundError:
            return None
        return event_id(int(first.seq), 0) if first.seq else None

    async def _subscribe(self, subject: str, after_seq: int | None) -> EventSubscription:
        async def resubscribe(events: NatsEvents, after: int) -> Subscription:
            return await self._consume(subject, after, events)

        events = NatsEvents(-1 if after_seq is None else after_seq, self.buffer_bytes, resubscribe)
        events.sub = await self._consume(subject, after_seq, events)
        return events

    async def _consume(
        self, subject: str, after_seq: int | None, events: NatsEvents
    ) -> Subscription:
        """An ordered consumer pushing the subject's events after ``after_seq`` (None: new
        ones) to ``events``; it starts at the message holding that id, the rest of a batch
        comes too (``events`` skips what it has)."""
        start = message_seq(after_seq) if after_seq is not None and after_seq > 0 else 0
        if after_seq is None:
            config = js_api.ConsumerConfig(deliver_policy=js_api.DeliverPolicy.NEW)
        elif start > 0:
            config = js_api.ConsumerConfig(
                deliver_policy=js_api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start
            )
        else:
            config = js_api.ConsumerConfig(deliver_policy=js_api.DeliverPolicy.ALL)
        return await self.js.subscribe(
            subject,
            stream=self.names.events_stream,
            cb=events.callback(),
            ordered_consumer=True,
            idle_heartbeat=1.0,
            config=config,
            pending_msgs_limit=1_000_000,
        )

    # control --------------------------------------------------------------
    async def send_control(self, message: RunControl) -> None:
        await self.nc.publish(self.names.run_control(message.run_id), encoder.encode(message))
        await self.nc.flush()

    async def subscribe_control(self, run_id: str) -> ControlSubscription:
        control = NatsControl()
        control.sub = await self.nc.subscribe(self.names.run_control(run_id), cb=control.on_msg)
        await self.nc.flush()  # the server knows the subscription before the run is claimed
        return control

    # request-reply --------------------------------------------------------
    async def request(
        self, payload: bytes, timeout: float, headers: Mapping[str, str] | None = None
    ) -> bytes:
        # No responder yet (workers starting or rolling): retry until the timeout.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pause = 0.05
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError("no worker answers graph requests")
            try:
                msg = await self.nc.request(
                    self.names.graph_requests,
                    payload,
                    timeout=remaining,
                    headers=dict(headers or {}),
                )
            except nats.errors.NoRespondersError:
                await asyncio.sleep(min(pause, max(0.0, deadline - loop.time())))
                pause = min(pause * 2, 1.0)
                continue
            except nats.errors.TimeoutError as exc:
                raise TimeoutError("graph request timed out") from exc
            return bytes(msg.data)

    async def serve_requests(self, handler: RequestHandler) -> None:
        async def answer(msg: Msg) -> None:
            reply = await handler(msg.data, dict(msg.headers or {}))
            await msg.respond(reply)

        async def on_request(msg: Msg) -> None:
            # Answer concurrently: one slow state load must not queue the others.
            task = asyncio.create_task(answer(msg))
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)

        sub = await self.nc.subscribe(
            self.names.graph_requests, queue=self.names.graph_queue_group, cb=on_request
        )
        self._request_subs.append(sub)

    async def stop_serving(self) -> None:
        """Stop answering graph questions and pulling runs (worker drain)."""
        for sub in self._request_subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._request_subs.clear()
        if self._pull is not None:
            with contextlib.suppress(Exception):
                await self._pull.unsubscribe()
            self._pull = None

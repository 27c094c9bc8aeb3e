"""One contract, two buses: the in-process Bus and the NATS JetStream Bus behave the same."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping

import pytest

from headwater.common.bus import Bus, EventSubscription, RunEvent
from headwater.common.bus.base import QueuedEvents
from headwater.common.bus.framing import PARTS_PER_MESSAGE, message_seq
from headwater.common.bus.memory import InProcessBus
from headwater.common.bus.nats import NatsBus
from headwater.common.schemas import RunControl, RunRequest
from headwater.common.subjects import END_EVENT, THREAD_LEVEL, Names
from tests.services import NatsServer

pytestmark = pytest.mark.timeout(30)
ACK_WAIT = 1.0


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.unit),
        pytest.param("nats", marks=pytest.mark.integration),
    ]
)
async def bus(request: pytest.FixtureRequest, namespace: str) -> AsyncIterator[Bus]:
    if request.param == "memory":
        memory = InProcessBus(ack_wait=ACK_WAIT, retention=60)
        await memory.start()
        yield memory
        await memory.close()
        return
    server: NatsServer = request.getfixturevalue("nats_server")
    nats_bus = NatsBus(server.url, Names(namespace), ack_wait=ACK_WAIT, retention=60)
    await nats_bus.start()
    yield nats_bus
    await nats_bus.delete_streams()
    await nats_bus.close()


def run_request(**overrides: object) -> RunRequest:
    fields: dict[str, object] = {
        "run_id": str(uuid.uuid4()),
        "thread_id": str(uuid.uuid4()),
        "assistant_id": str(uuid.uuid4()),
        "graph_id": "agent",
        "input": {"messages": [{"role": "user", "content": "hi"}]},
        "stream_mode": ["values", "messages-tuple"],
    }
    fields.update(overrides)
    return RunRequest(**fields)  # type: ignore[arg-type]


async def collect(sub: EventSubscription, count: int, timeout: float = 5.0) -> list[RunEvent]:
    events: list[RunEvent] = []
    async with asyncio.timeout(timeout):
        while len(events) < count:
            events.extend(await sub.next_batch(timeout))
    return events


# runs -------------------------------------------------------------------------------
async def test_submit_fetch_ack(bus: Bus) -> None:
    request = run_request(config={"configurable": {"k": 1}}, owner="u1")
    await bus.submit_run(
        request, {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    )
    [delivery] = await bus.fetch_runs(5, timeout=2.0)
    assert delivery.request == request
    assert delivery.attempt == 1
    assert delivery.headers["traceparent"].startswith("00-0af76519")
    await delivery.ack()
    assert await bus.fetch_runs(5, timeout=ACK_WAIT * 1.5) == []


async def test_same_run_id_is_stored_once(bus: Bus) -> None:
    request = run_request()
    await bus.submit_run(request)
    await bus.submit_run(request)
    deliveries = await bus.fetch_runs(5, timeout=1.0)
    deliveries += await bus.fetch_runs(5, timeout=0.5)
    assert [d.request.run_id for d in deliveries] == [request.run_id]
    await deliveries[0].ack()


async def test_the_queue_tells_whether_a_run_request_is_still_there(bus: Bus) -> None:
    request, never = run_request(), run_request()
    await bus.submit_run(request)
    assert await bus.has_run_request(request.run_id)
    [delivery] = await bus.fetch_runs(1, timeout=2.0)
    assert await bus.has_run_request(request.run_id), "delivered, not yet acknowledged"
    await delivery.ack()
    async with asyncio.timeout(3):
        while await bus.has_run_request(request.run_id):
            await asyncio.sleep(0.05)
    assert not await bus.has_run_request(never.run_id)


async def test_unacked_run_is_redelivered_after_ack_wait(bus: Bus) -> None:
    request = run_request()
    await bus.submit_run(request)
    [first] = await bus.fetch_runs(1, timeout=2.0)
    assert first.attempt == 1
    [second] = await bus.fetch_runs(1, timeout=ACK_WAIT * 4)
    assert second.request.run_id == request.run_id and second.attempt == 2
    await second.ack()


async def test_nak_redelivers_at_once_and_term_stops(bus: Bus) -> None:
    request = run_request()
    await bus.submit_run(request)
    [first] = await bus.fetch_runs(1, timeout=2.0)
    await first.nak()
    [again] = await bus.fetch_runs(1, timeout=ACK_WAIT / 2)
    assert again.attempt == 2
    await again.term()
    assert await bus.fetch_runs(1, timeout=ACK_WAIT * 1.5) == []


async def test_in_progress_prevents_redelivery(bus: Bus) -> None:
    request = run_request()
    await bus.submit_run(request)
    [delivery] = await bus.fetch_runs(1, timeout=2.0)
    for _ in range(8):  # 2.4 s, more than twice ack_wait
        await delivery.in_progress()
        assert await bus.fetch_runs(1, timeout=0.3) == []
    await delivery.ack()


async def test_handed_back_requests_come_back_after_their_delay_without_limit(bus: Bus) -> None:
    """A delivery handed back because its run must wait (thread busy, not due, held) is not
    an attempt: it comes back as often as it is handed back, each time after its delay, and
    counts its deliveries; the worker bounds real attempts when it claims the run."""
    await bus.submit_run(request := run_request())
    delivered = []
    loop = asyncio.get_running_loop()
    for _ in range(5):
        [delivery] = await bus.fetch_runs(1, timeout=2.0)
        delivered.append(delivery.attempt)
        handed_back = loop.time()
        await delivery.nak(delay=0.3)
    [delivery] = await bus.fetch_runs(1, timeout=2.0)
    assert loop.time() - handed_back >= 0.25, "not before its delay"
    delivered.append(delivery.attempt)
    assert delivered == [1, 2, 3, 4, 5, 6]
    assert await bus.has_run_request(request.run_id)
    await delivery.ack()
    async with asyncio.timeout(3):
        while await bus.has_run_request(request.run_id):
            await asyncio.sleep(0.05)


# events -----------------------------------------------------------------------------
async def test_events_replay_in_order_from_any_sequence(bus: Bus) -> None:
    thread_id, run_id, other = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    early = await bus.subscribe_events(thread_id, run_id)
    payloads = [(f"e{i}", f'{{"i":{i}}}'.encode()) for i in range(6)]
    for name, data in payloads[:-1]:
        await bus.publish_event(thread_id, run_id, name, data)
        await bus.publish_event(thread_id, other, "noise", b"{}")
    last_seq = await bus.publish_event_confirmed(
        thread_id, run_id, *payloads[-1], headers={"X-Test": "yes"}
    )

    live = await collect(early, 6)
    late = await bus.subscribe_events(thread_id, run_id)
    replayed = await collect(late, 6)
    for events in (live, replayed):
        assert [(e.event, e.data) for e in events] == payloads
        seqs = [e.seq for e in events]
        assert seqs == sorted(seqs) and len(set(seqs)) == 6 and seqs[-1] == last_seq
    assert live[-1].headers.get("X-Test") == "yes"
    assert {e.run_id for e in live} == {run_id}

    cut = live[2].seq
    tail = await bus.subscribe_events(thread_id, run_id, after_seq=cut)
    assert [e.seq for e in await collect(tail, 3)] == [e.seq for e in live[3:]]
    assert await tail.next_batch(0.3) == [], "nothing else, and no other run's events"
    for sub in (early, late, tail):
        await sub.close()


async def test_thread_events_cover_every_run_of_the_thread_in_order(bus: Bus) -> None:
    thread_id, elsewhere = str(uuid.uuid4()), str(uuid.uuid4())
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    await bus.publish_event_confirmed(thread_id, first, "before", b"0")
    live = await bus.subscribe_thread_events(thread_id)  # from now on
    everything = await bus.subscribe_thread_events(thread_id, after_seq=0)
    await bus.publish_event(thread_id, first, "a", b"1")
    await bus.publish_event(elsewhere, first, "noise", b"{}")
    await bus.publish_event(thread_id, THREAD_LEVEL, "state_update", b"2")
    last = await bus.publish_event_confirmed(thread_id, second, "b", b"3")

    seen = await collect(live, 3)
    assert [(e.run_id, e.data) for e in seen] == [
        (first, b"1"),
        (THREAD_LEVEL, b"2"),
        (second, b"3"),
    ]
    assert seen[-1].seq == last and [e.seq for e in seen] == sorted(e.seq for e in seen)
    replayed = await collect(everything, 4)
    assert [e.data for e in replayed] == [b"0", b"1", b"2", b"3"]
    tail = await bus.subscribe_thread_events(thread_id, after_seq=seen[0].seq)
    assert [e.data for e in await collect(tail, 2)] == [b"2", b"3"]
    assert await tail.next_batch(0.3) == []
    assert await bus.first_event_seq(thread_id, second) == last
    assert await bus.first_event_seq(thread_id, first) == replayed[0].seq
    assert await bus.first_event_seq(thread_id, str(uuid.uuid4())) is None
    assert await bus.last_event_seq() >= last

    await bus.purge_thread_events(thread_id)
    assert await bus.first_event_seq(thread_id, first) is None
    gone = await bus.subscribe_thread_events(thread_id, after_seq=0)
    assert await gone.next_batch(0.3) == [], "nothing of the thread is replayed"
    await bus.publish_event_confirmed(thread_id, THREAD_LEVEL, "after", b"4")
    assert [e.data for e in await collect(gone, 1)] == [b"4"]
    assert [e.data for e in await collect(live, 1)] == [b"4"], "open subscriptions go on"
    await gone.close()
    other = await bus.subscribe_events(elsewhere, first, after_seq=0)
    assert [e.event for e in await collect(other, 1)] == ["noise"], "other threads keep theirs"
    await other.close()
    for sub in (live, everything, tail):
        await sub.close()


async def test_next_batch_times_out_and_returns_everything_waiting(bus: Bus) -> None:
    thread_id, run_id = str(uuid.uuid4()), str(uuid.uuid4())
    sub = await bus.subscribe_events(thread_id, run_id)
    assert await sub.next_batch(0.2) == []
    for i in range(20):
        await bus.publish_event(thread_id, run_id, "token", str(i).encode())
    await bus.publish_event_confirmed(thread_id, run_id, "token", b"20")
    await asyncio.sleep(0.3)
    batch = await sub.next_batch(1.0)
    assert len(batch) > 1 and [e.data for e in batch] == [
        str(i).encode() for i in range(len(batch))
    ]
    rest = await collect(sub, 21 - len(batch))
    assert [e.data for e in batch + rest] == [str(i).encode() for i in range(21)]
    await sub.close()


# control and request-reply ----------------------------------------------------------
async def test_control_reaches_only_its_run(bus: Bus) -> None:
    run_id, other = str(uuid.uuid4()), str(uuid.uuid4())
    control = await bus.subscribe_control(run_id)
    await bus.send_control(RunControl(run_id=other))
    await bus.send_control(RunControl(run_id=run_id, action="rollback"))
    async with asyncio.timeout(3):
        message = await control.get()
    assert message == RunControl(run_id=run_id, action="rollback")
    await control.close()


async def test_request_reply(bus: Bus) -> None:
    seen: list[tuple[bytes, Mapping[str, str]]] = []

    async def handler(payload: bytes, headers: Mapping[str, str]) -> bytes:
        seen.append((payload, headers))
        return b"answer:" + payload

    with pytest.raises(TimeoutError):
        await bus.request(b"nobody", timeout=0.5)
    await bus.serve_requests(handler)
    assert (
        await bus.request(b"state?", timeout=3.0, headers={"traceparent": "00-1-2-01"})
        == b"answer:state?"
    )
    assert seen[0][0] == b"state?" and seen[0][1].get("traceparent") == "00-1-2-01"
    await bus.stop_serving()
    with pytest.raises(TimeoutError):
        await bus.request(b"again", timeout=0.5)


@pytest.mark.integration
async def test_nats_restart_keeps_stored_events(namespace: str) -> None:
    server = NatsServer()
    server.start()
    bus = NatsBus(server.url, Names(namespace), ack_wait=ACK_WAIT, retention=60)
    try:
        await bus.start()
        thread_id, run_id = str(uuid.uuid4()), str(uuid.uuid4())
        for i in range(5):
            await bus.publish_event(thread_id, run_id, "token", str(i).encode())
        await bus.publish_event_confirmed(thread_id, run_id, "token", b"5")
        server.kill()
        server.start()  # same port, same store
        async with asyncio.timeout(10):
            while not await bus.healthy():
                await asyncio.sleep(0.1)
        await bus.publish_event_confirmed(thread_id, run_id, "token", b"6")
        sub = await bus.subscribe_events(thread_id, run_id)
        assert [e.data for e in await collect(sub, 7)] == [str(i).encode() for i in range(7)]
        await sub.close()
        await bus.submit_run(request := run_request())
        [delivery] = await bus.fetch_runs(1, timeout=3.0)
        assert delivery.request.run_id == request.run_id
        await delivery.ack()
    finally:
        await bus.close()
        server.cleanup()


# batching, ids, resumption, back-pressure (both buses) -------------------------------
async def test_a_burst_of_parts_travels_in_few_messages_with_increasing_ids(bus: Bus) -> None:
    thread_id, run_id = str(uuid.uuid4()), str(uuid.uuid4())
    sub = await bus.subscribe_events(thread_id, run_id)
    for i in range(300):
        await bus.publish_event(thread_id, run_id, "messages", b'{"i":%d}' % i)
    last = await bus.publish_event_confirmed(thread_id, run_id, "end", b"{}")
    events = await collect(sub, 301)
    assert [e.data for e in events[:-1]] == [b'{"i":%d}' % i for i in range(300)]
    ids = [e.seq for e in events]
    assert ids == sorted(ids) and len(set(ids)) == 301 and ids[-1] == last
    messages = {message_seq(i) for i in ids}
    assert len(messages) <= 30, f"300 parts published at once took {len(messages)} messages"
    assert any(i % PARTS_PER_MESSAGE for i in ids), "parts share messages: ids carry an index"
    await sub.close()


async def test_a_part_after_a_quiet_spell_is_stored_at_once(bus: Bus) -> None:
    thread_id, run_id = str(uuid.uuid4()), str(uuid.uuid4())
    sub = await bus.subscribe_events(thread_id, run_id)
    await bus.publish_event(thread_id, run_id, "first", b"1")
    assert [e.event for e in await collect(sub, 1, timeout=1.0)] == ["first"]
    await asyncio.sleep(0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await bus.publish_event(thread_id, run_id, "second", b"2")
    [second] = await collect(sub, 1, timeout=1.0)
    assert second.event == "second"
    assert loop.time() - started < 0.5
    await sub.close()


async def test_resuming_mid_batch_is_exact(bus: Bus) -> None:
    thread_id, run_id = str(uuid.uuid4()), str(uuid.uuid4())
    for i in range(50):
        await bus.publish_event(thread_id, run_id, "token", str(i).encode())
    await bus.publish_event_confirmed(thread_id, run_id, "token", b"50")
    everything = await collect(await bus.subscribe_events(thread_id, run_id), 51)
    mid = next(e for e in everything if e.seq % PARTS_PER_MESSAGE not in (0,))  # inside a batch
    position = everything.index(mid)
    tail = await bus.subscribe_events(thread_id, run_id, after_seq=mid.seq)
    rest = await collect(tail, 51 - position - 1)
    assert [(e.seq, e.data) for e in rest] == [(e.seq, e.data) for e in everything[position + 1 :]]
    assert await tail.next_batch(0.2) == []
    thread_tail = await bus.subscribe_thread_events(thread_id, after_seq=mid.seq)
    assert [e.seq for e in await collect(thread_tail, len(rest))] == [e.seq for e in rest]
    for sub in (tail, thread_tail):
        await sub.close()


async def test_first_and_last_ids_bracket_a_run(bus: Bus) -> None:
    thread_id, run_id = str(uuid.uuid4()), str(uuid.uuid4())
    before = await bus.last_event_seq()
    for i in range(5):
        await bus.publish_event(thread_id, run_id, "token", str(i).encode())
    last = await bus.publish_event_confirmed(thread_id, run_id, "token", b"5")
    first = await bus.first_event_seq(thread_id, run_id)
    assert first is not None and before < first <= last <= await bus.last_event_seq()
    after_first = await bus.subscribe_events(thread_id, run_id, after_seq=first - 1)
    assert len(await collect(after_first, 6)) == 6
    live_only = await bus.subscribe_thread_events(thread_id, after_seq=await bus.last_event_seq())
    assert await live_only.next_batch(0.2) == []
    for sub in (after_first, live_only):
        await sub.close()


async def test_publishers_wait_instead_of_failing_when_a_run_is_too_far_ahead(bus: Bus) -> None:
    """Back-pressure: past the pending bound a publisher awaits; nothing raises or is lost."""
    thread_id, run_id = str(uuid.uuid4()), str(uuid.uuid4())
    batcher = bus.batcher  # type: ignore[attr-defined]
    batcher.max_pending_bytes = 4096
    data = b"x" * 1000
    peak = 0

    async def publish() -> None:
        nonlocal peak
        for _ in range(200):
            await bus.publish_event(thread_id, run_id, "token", data)
            peak = max(peak, sum(box.size for box in batcher._boxes.values()))

    await asyncio.gather(publish(), publish())
    last = await bus.publish_event_confirmed(thread_id, run_id, "token", b"end")
    sub = await bus.subscribe_events(thread_id, run_id)
    events = await collect(sub, 401, timeout=10)
    assert events[-1].seq == last and len({e.seq for e in events}) == 401
    assert peak <= 4096 + 2 * 1024, f"unsent bytes reached {peak}"
    await sub.close()


async def test_a_slow_reader_costs_bounded_memory_and_misses_nothing(bus: Bus) -> None:
    thread_id, run_id = str(uuid.uuid4()), str(uuid.uuid4())
    if isinstance(bus, NatsBus):
        bus.buffer_bytes = 8192
    sub = await bus.subscribe_events(thread_id, run_id)
    for i in range(300):
        await bus.publish_event(thread_id, run_id, "token", b"%04d" % i + b"x" * 200)
    await bus.publish_event_confirmed(thread_id, run_id, "end", b"{}")
    await asyncio.sleep(0.3)  # everything stored and pushed while the reader sleeps
    if isinstance(sub, QueuedEvents):
        assert sub._buffered <= 8192 + 300
    events = await collect(sub, 301, timeout=10)
    assert [e.data[:4] for e in events[:-1]] == [b"%04d" % i for i in range(300)]
    assert not sub.overflowed
    if isinstance(sub, QueuedEvents):
        assert sub.pauses >= 1, "the NATS consumer paused and resumed"
    await sub.close()


@pytest.mark.integration
async def test_parts_published_across_a_nats_restart_are_stored_once_each(namespace: str) -> None:
    server = NatsServer()
    server.start()
    bus = NatsBus(server.url, Names(namespace), ack_wait=ACK_WAIT, retention=60)
    try:
        await bus.start()
        thread_id, run_id = str(uuid.uuid4()), str(uuid.uuid4())

        async def publish() -> int:
            for i in range(200):
                await bus.publish_event(thread_id, run_id, "token", str(i).encode())
                await asyncio.sleep(0.005)
            return await bus.publish_event_confirmed(thread_id, run_id, "end", b"{}")

        publishing = asyncio.create_task(publish())
        await asyncio.sleep(0.3)
        server.kill()
        await asyncio.sleep(1.0)
        server.start()  # same port, same store
        async with asyncio.timeout(20):
            last = await publishing
        sub = await bus.subscribe_events(thread_id, run_id)
        events = await collect(sub, 201, timeout=10)
        assert [e.data for e in events[:-1]] == [str(i).encode() for i in range(200)]
        assert events[-1].seq == last
        assert await sub.next_batch(0.3) == [], "no part stored twice"
        await sub.close()
    finally:
        await bus.close()
        server.cleanup()


@pytest.mark.unit
async def test_the_in_process_bus_forgets_finished_runs_and_stays_under_its_bound() -> None:
    bus = InProcessBus(finished_retention=0.2, max_bytes=200_000)
    await bus.start()
    try:
        thread_id = str(uuid.uuid4())
        runs = [str(uuid.uuid4()) for _ in range(20)]
        for run_id in runs:
            for _ in range(10):
                await bus.publish_event(thread_id, run_id, "token", b"x" * 2000)
            await bus.publish_event_confirmed(thread_id, run_id, END_EVENT, b"{}")
        assert bus._bytes <= 200_000 + 30_000, "the oldest finished runs went first"
        assert await bus.first_event_seq(thread_id, runs[0]) is None
        assert await bus.first_event_seq(thread_id, runs[-1]) is not None
        watching = await bus.subscribe_events(thread_id, runs[-1], after_seq=0)
        await asyncio.sleep(0.6)  # past the retention: the reaper runs every 0.25 s
        assert await bus.first_event_seq(thread_id, runs[-2]) is None
        assert await bus.first_event_seq(thread_id, runs[-1]) is not None, "still read"
        everything = await bus.subscribe_thread_events(thread_id, after_seq=0)
        assert {e.run_id for e in await everything.next_batch(0.1)} == {runs[-1]}
        for sub in (watching, everything):
            await sub.close()
    finally:
        await bus.close()

"""SSE framing and the relay's end-of-run handling over the in-process bus."""

from __future__ import annotations

import pytest

from headwater.api.relay import HEARTBEAT, final_result, sse_events, sse_frame
from headwater.common.bus.memory import InProcessBus
from headwater.common.schemas import RunEnd, encoder
from headwater.common.subjects import END_EVENT

pytestmark = pytest.mark.unit


def test_frame_is_crlf_with_id() -> None:
    assert sse_frame("values", b'{"a":1}', 7) == b'event: values\r\ndata: {"a":1}\r\nid: 7\r\n\r\n'


async def _running() -> str | None:
    return "running"


async def _gone() -> str | None:
    return None


async def test_sse_stops_at_end_event_and_coalesces() -> None:
    bus = InProcessBus()
    await bus.start()
    sub = await bus.subscribe_events("t", "r1")
    await bus.publish_event("t", "r1", "metadata", b"{}")
    await bus.publish_event("t", "r1", "values", b"[1]")
    await bus.publish_event(
        "t", "r1", END_EVENT, encoder.encode(RunEnd(run_id="r1", status="success"))
    )
    await bus.publish_event("t", "r1", "values", b"[2]")
    chunks = [c async for c in sse_events(sub, _running)]
    assert chunks == [sse_frame("metadata", b"{}", 1) + sse_frame("values", b"[1]", 2)]
    await bus.close()


async def test_sse_closes_when_run_is_gone_without_end() -> None:
    bus = InProcessBus()
    sub = await bus.subscribe_events("t", "r2")
    chunks = [c async for c in sse_events(sub, _gone)]
    assert chunks == []
    assert HEARTBEAT.endswith(b"\r\n\r\n")


async def test_final_result_is_the_end_payload() -> None:
    bus = InProcessBus()
    sub = await bus.subscribe_events("t", "r3")
    await bus.publish_event("t", "r3", "values", b"[1]")
    end = RunEnd(run_id="r3", status="success", result=__import__("msgspec").Raw(b'{"x":1}'))
    await bus.publish_event("t", "r3", END_EVENT, encoder.encode(end))

    async def fallback() -> bytes:
        return b"{}"

    assert [c async for c in final_result(sub, _running, fallback)] == [b'{"x":1}']

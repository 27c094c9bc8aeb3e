"""Pieces of the OpenAI gateway that need no deployment: ids, request checks, usage sums,
keep-alives, transcription without an upstream."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar

from headwater.api.fronts.completion_ids import completion_id, completion_run
from headwater.api.fronts.keepalive import KEEPALIVE, with_keepalives
from headwater.api.fronts.openai_request import OpenAIError, parse_request
from headwater.api.fronts.transcription import TranscriptionController, transcription_upstream
from headwater.api.fronts.usage import RunUsage
from headwater.common.settings import Settings

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]


def test_completion_ids_name_their_run_for_their_owner_only() -> None:
    thread, run = str(uuid.uuid4()), str(uuid.uuid4())
    made = completion_id("secret", "alice", thread, run)
    assert made.startswith("chatcmpl-")
    assert completion_run("secret", "alice", made) == (thread, run)
    assert completion_run("secret", "bob", made) is None
    assert completion_run("other-secret", "alice", made) is None
    flipped = made[:-1] + ("0" if made[-1] != "0" else "1")
    assert completion_run("secret", "alice", flipped) is None
    for bad in ("chatcmpl-", "chatcmpl-zz", made + "00", "run_abc"):
        assert completion_run("secret", "alice", bad) is None


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"{", 400),
        (b"\xff", 400),
        (b"[]", 422),
        (b'{"model": "agent", "messages": [{"role": "user"}], "top_p": "x"}', 422),
        (b'{"model": "agent", "messages": [{"role": "user"}], "max_tokens": 1.5}', 422),
        (b'{"model": "agent", "messages": [{"role": "user"}], "max_tokens": -5}', 400),
        (b'{"model": "agent", "messages": [{"role": "user"}], "stream_options": {}}', 400),
    ],
)
def test_request_checks(raw: bytes, status: int) -> None:
    with pytest.raises(OpenAIError) as refused:
        parse_request(raw)
    assert refused.value.status == status


def test_valid_request_keeps_message_fields() -> None:
    body = parse_request(
        b'{"model": "agent", "temperature": 1, "messages": '
        b'[{"role": "user", "content": "hi", "extra": 1}]}'
    )
    assert body.temperature == 1.0 and body.messages[0].content == "hi"


def test_run_usage_prefers_reported_then_final_values_then_counted_deltas() -> None:
    usage = RunUsage()
    usage.chunk({"id": "a", "content": "x"})
    usage.chunk(
        {"id": "a", "content": "", "usage_metadata": {"input_tokens": 4, "output_tokens": 2}}
    )
    usage.chunk({"id": "b", "content": "y"})
    usage.chunk({"id": "c", "content": "z"})
    usage.chunk({"id": "c", "content": "", "tool_call_chunks": [{"args": "{}"}]})
    final = {
        "messages": [
            {"type": "human", "id": "h"},
            {"type": "ai", "id": "a", "usage_metadata": {"input_tokens": 99, "output_tokens": 99}},
            {
                "type": "ai",
                "id": "b",
                "usage_metadata": {"input_tokens": 10, "output_tokens": 1},
                "response_metadata": {"headwater_usage": "estimated"},
            },
            {"type": "ai", "id": "c"},
            {"type": "ai", "id": "history"},
        ]
    }
    usage.settle(final)
    assert usage.as_openai() == {
        "prompt_tokens": 14,
        "completion_tokens": 5,
        "total_tokens": 19,
        "estimated": True,
    }


async def test_keepalives_fill_quiet_spells_and_the_stream_ends_cleanly() -> None:
    closed = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        try:
            yield b"a"
            await asyncio.sleep(0.35)
            yield b"b"
        finally:
            closed.set()

    out = [frame async for frame in with_keepalives(slow(), 0.1)]
    assert out[0] == b"a" and out[-1] == b"b"
    assert KEEPALIVE in out and set(out[1:-1]) == {KEEPALIVE}
    assert closed.is_set()


async def test_keepalives_pass_errors_on_and_close_the_source_when_abandoned() -> None:
    closed = asyncio.Event()

    async def failing() -> AsyncIterator[bytes]:
        yield b"a"
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        _ = [frame async for frame in with_keepalives(failing(), 1.0)]

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                await asyncio.sleep(0.01)
                yield b"x"
        finally:
            closed.set()

    frames = with_keepalives(endless(), 1.0)
    assert await frames.__anext__() == b"x"
    await frames.aclose()  # type: ignore[attr-defined]
    assert closed.is_set()


async def test_transcription_without_an_upstream_is_503() -> None:
    app = Litestar(
        route_handlers=[TranscriptionController], lifespan=[transcription_upstream(Settings())]
    )
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http,
    ):
        health = await http.get("/api/transcribe/health")
        assert health.status_code == 503 and health.json()["reason"] == "not configured"
        sent = await http.post(
            "/v1/audio/transcriptions",
            files={"file": ("a.wav", b"RIFF", "audio/wav")},
            data={"model": "whisper-1"},
        )
        assert sent.status_code == 503 and sent.json()["error"]["type"] == "unavailable"

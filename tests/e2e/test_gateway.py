"""The OpenAI gateway's remaining contracts, with the real ``openai`` client and httpx: error
codes, usage, SSE keep-alives, the debug side stream and audio transcription."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import math
import signal
import struct
import time
import wave
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.harness import Deployment, start_dev, wait_until_ready
from tests.services import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]
KEYS = {"alice": "gw-key-a", "bob": "gw-key-b"}
MAX_GAP_S = 5.0


@pytest.fixture
def oai(deployment: Deployment) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=deployment.base_url + "/v1", api_key="unused", max_retries=0)


@pytest.fixture(scope="module")
def variant(deployment: Deployment) -> Iterator[str]:
    """Another API of the same kind with API keys and a transcription server that is down."""
    env = {
        "HEADWATER_AUTH": "apikey",
        "HEADWATER_API_KEYS": ",".join(f"{key}:{user}" for user, key in KEYS.items()),
        "HEADWATER_TRANSCRIPTION_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
    }
    if deployment.kind == "dev":
        other = start_dev(extra_env=env)
        yield other.base_url
        other.stop()
    elif deployment.kind == "cluster":
        port, name = free_port(), "api-gateway-variant"
        deployment.env_by_process[name] = {**env, "HEADWATER_PORT": str(port)}
        deployment.spawn(name, "api")
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(url, "/readyz")
        yield url
        deployment.kill(name, signal.SIGTERM)
        deployment.processes.pop(name)
    else:
        pytest.skip("needs a deployment this suite starts")


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def tone_wav(seconds: float, rate: int = 16000) -> bytes:
    """A 440 Hz sine tone, 16-bit mono PCM."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(frames)
    return out.getvalue()


async def timed_lines(
    http: httpx.AsyncClient, method: str, path: str, **kwargs: Any
) -> AsyncIterator[tuple[float, str]]:
    """Every line of an SSE response with the time it arrived."""
    async with http.stream(method, path, **kwargs) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            yield time.monotonic(), line


async def sse_events(
    http: httpx.AsyncClient, path: str, **kwargs: Any
) -> list[tuple[str, dict[str, Any]]]:
    events, name = [], ""
    async for _, line in timed_lines(http, "GET", path, **kwargs):
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[6:])))
    return events


def max_gap(stamps: list[float], started: float) -> float:
    moments = [started, *stamps]
    return max(b - a for a, b in itertools.pairwise(moments))


# 4. error codes ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"[]", None),
        (b'{"model":"agent"}', None),
        (b'{"messages":[{"role":"user","content":"hi"}]}', None),
        (b'{"model":"agent","messages":[]}', "messages"),
        (b'{"model":"agent","messages":"hi"}', "messages"),
        (b'{"model":7,"messages":[{"role":"user","content":"hi"}]}', "model"),
        (b'{"model":"agent","messages":[{"role":"wizard"}]}', "messages[0].role"),
        (b'{"model":"agent","messages":[{"role":"user","content":5}]}', "messages[0].content"),
        (
            b'{"model":"agent","messages":[{"role":"user","content":"x"}],"temperature":"hot"}',
            "temperature",
        ),
        (b'{"model":"agent","messages":[{"role":"user","content":"x"}],"stream":"yes"}', "stream"),
    ],
)
async def test_ill_shaped_bodies_are_422_in_openai_shape(
    deployment: Deployment, body: bytes, param: str | None
) -> None:
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=30) as http:
        r = await http.post(
            "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
        )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["code"] == 422 and error["message"]
    if param is not None:
        assert error["param"] == param


async def test_malformed_json_is_400_and_unknown_model_404(
    deployment: Deployment, oai: openai.AsyncOpenAI
) -> None:
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=30) as http:
        for raw in (b"{", b'{"model": "agent", "messages": [}'):
            r = await http.post(
                "/v1/chat/completions", content=raw, headers={"content-type": "application/json"}
            )
            assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    with pytest.raises(openai.NotFoundError) as missing:
        await oai.chat.completions.create(model="no-such-model", messages=user("hi"))
    assert missing.value.status_code == 404
    with pytest.raises(openai.UnprocessableEntityError):
        await oai.chat.completions.create(model="agent", messages=[])


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"max_tokens": -5}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_completion_tokens": -1}, "max_completion_tokens"),
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"n": 2}, "n"),
        ({"presence_penalty": 3}, "presence_penalty"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ],
)
async def test_sampling_out_of_range_is_400(
    oai: openai.AsyncOpenAI, params: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        await oai.chat.completions.create(model="agent", messages=user("hello"), **params)
    assert bad.value.status_code == 400
    assert isinstance(bad.value.body, dict) and bad.value.body["param"] == param


async def test_sampling_in_range_is_served(oai: openai.AsyncOpenAI) -> None:
    reply = await oai.chat.completions.create(
        model="agent", messages=user("hello"), temperature=2, top_p=1, max_tokens=3, n=1
    )
    assert reply.choices[0].finish_reason == "length"
    history: list[Any] = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None},  # as some clients send an empty turn
        {"role": "user", "content": "hello"},
    ]
    again = await oai.chat.completions.create(model="agent", messages=history)
    assert again.choices[0].message.content == "Hello! I am the Headwater simulator."


# 5. usage -------------------------------------------------------------------------------
async def test_usage_is_the_models_without_and_with_streaming(oai: openai.AsyncOpenAI) -> None:
    # The simulator counts a prompt as its words plus 3 per message, a reply as its deltas:
    # "hello" → 1 + 3 = 4 prompt tokens; "Hello! I am the Headwater simulator." → 6.
    whole = await oai.chat.completions.create(model="agent", messages=user("hello"))
    assert whole.usage is not None
    assert (whole.usage.prompt_tokens, whole.usage.completion_tokens) == (4, 6)
    assert whole.usage.total_tokens == 10 and "estimated" not in whole.usage.model_dump()
    stream = await oai.chat.completions.create(
        model="agent", messages=user("hello"), stream=True, stream_options={"include_usage": True}
    )
    chunks = [c async for c in stream]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.model_dump(exclude_none=True) == whole.usage.model_dump(
        exclude_none=True
    )
    assert len({c.id for c in chunks}) == 1
    # Two LLM calls: "calculate 6*7" (2 + 3 = 5 in, 3 argument deltas out), then the
    # tool's answer (user 2 + assistant 0 + tool 1 + 3 * 3 = 12 in, 4 deltas out).
    tools = await oai.chat.completions.create(model="agent", messages=user("calculate 6*7"))
    assert tools.usage is not None
    assert (tools.usage.prompt_tokens, tools.usage.completion_tokens) == (17, 7)


async def test_usage_is_counted_when_the_model_reports_none(oai: openai.AsyncOpenAI) -> None:
    # This simulator rule never sends a usage chunk: the streamed deltas are counted (5, the
    # simulator's own count) and the prompt estimated, and the usage says so.
    whole = await oai.chat.completions.create(model="agent", messages=user("hello without usage"))
    assert whole.choices[0].message.content == "This reply comes without usage."
    usage = whole.usage.model_dump() if whole.usage else {}
    assert usage["completion_tokens"] == 5 and usage["prompt_tokens"] > 0
    assert usage["estimated"] is True
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    stream = await oai.chat.completions.create(
        model="agent",
        messages=user("hello without usage"),
        stream=True,
        stream_options={"include_usage": True},
    )
    last = [c async for c in stream][-1]
    assert last.usage is not None and last.usage.model_dump() == usage


# 6. keep-alives -------------------------------------------------------------------------
async def test_no_sse_gap_reaches_five_seconds_on_a_slow_run(deployment: Deployment) -> None:
    # "a long pause" makes the simulator wait 6 s between its two deltas.
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=60) as http:

        async def openai_stream() -> tuple[float, list[float], str]:
            started, stamps, text = time.monotonic(), [], ""
            body = {"model": "agent", "messages": user("a long pause please"), "stream": True}
            async for stamp, line in timed_lines(http, "POST", "/v1/chat/completions", json=body):
                stamps.append(stamp)
                if line.startswith("data: {"):
                    chunk = json.loads(line[6:])
                    text += "".join(c["delta"].get("content") or "" for c in chunk["choices"])
            return started, stamps, text

        async def watch(path: str) -> tuple[float, list[float], str]:
            started, stamps, last = time.monotonic(), [], ""
            async for stamp, line in timed_lines(http, "GET", path):
                stamps.append(stamp)
                last = line[7:] if line.startswith("event: ") else last
            return started, stamps, last

        async def run_streams() -> list[tuple[float, list[float], str]]:
            started_run = await http.post("/v1/runs", json={"input": "a long pause please"})
            run_id = started_run.json()["run_id"]
            return list(
                await asyncio.gather(
                    watch(f"/v1/runs/{run_id}/events"), watch(f"/v1/debug/stream/{run_id}")
                )
            )

        (o_start, o_stamps, text), streams = await asyncio.gather(openai_stream(), run_streams())
    assert text == "[simulated] sim-token-1 "
    (r_start, r_stamps, last), (d_start, d_stamps, debug_last) = streams
    assert last == "run.completed" and debug_last == "run.completed"
    for started, stamps in ((o_start, o_stamps), (r_start, r_stamps), (d_start, d_stamps)):
        assert stamps[-1] - started >= 6.0  # slow indeed
        assert max_gap(stamps, started) < MAX_GAP_S


async def test_estimated_usage_is_in_the_thread_state_too(deployment: Deployment) -> None:
    from langgraph_sdk import get_client

    client = get_client(url=deployment.base_url)
    thread = await client.threads.create()
    values = await client.runs.wait(
        thread["thread_id"],
        "agent",
        input={"messages": [{"role": "user", "content": "hello without usage"}]},
    )
    assert isinstance(values, dict)
    reply = values["messages"][-1]
    assert reply["usage_metadata"]["output_tokens"] == 5
    assert reply["response_metadata"]["headwater_usage"] == "estimated"


# 7. debug stream ------------------------------------------------------------------------
def names(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [name for name, _ in events]


def check_tool_run(events: list[tuple[str, dict[str, Any]]]) -> None:
    order = names(events)
    assert order[0] == "run.started" and order[-1] == "run.completed"
    assert events[-1][1] == {"status": "success"}
    nodes = [d["node"] for n, d in events if n == "node.started"]
    assert nodes == ["chat", "tools", "chat"]
    assert order.count("node.completed") == 3 and order.count("llm.started") == 2
    calls = [d for n, d in events if n == "llm.completed"]
    assert len(calls) == 2 and all(c["usage"]["output_tokens"] > 0 for c in calls)
    assert calls[0]["finish_reason"] == "tool_calls" and calls[0]["model"] == "headwater-sim"
    call = next(d for n, d in events if n == "tool.call")
    assert call["tool"] == "calculator" and call["args"] == {"expression": "6*7"}
    result = next(d for n, d in events if n == "tool.result")
    assert result["output"] == "42" and result["tool_call_id"] == call["tool_call_id"]
    assert order.index("tool.call") < order.index("tool.result")


async def test_debug_stream_of_a_completion_and_of_a_run(
    deployment: Deployment, oai: openai.AsyncOpenAI
) -> None:
    reply = await oai.chat.completions.create(model="agent", messages=user("calculate 6*7"))
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=30) as http:
        check_tool_run(await sse_events(http, f"/v1/debug/stream/{reply.id}"))
        started = await http.post("/v1/runs", json={"input": "calculate 6*7"})
        run_id = started.json()["run_id"]
        check_tool_run(await sse_events(http, f"/v1/debug/stream/{run_id}"))
        forged = reply.id[:-1] + ("0" if reply.id[-1] != "0" else "1")
        for unknown in (forged, "chatcmpl-abc", "run_" + "0" * 32, "nothing", "run_zz"):
            r = await http.get(f"/v1/debug/stream/{unknown}")
            assert r.status_code == 404 and r.json()["error"]["code"] == 404, unknown


async def test_debug_stream_follows_a_run_in_flight(
    deployment: Deployment, oai: openai.AsyncOpenAI
) -> None:
    stream = await oai.chat.completions.create(
        model="agent", messages=user("calculate 6*7"), stream=True
    )
    first = await stream.__anext__()
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=30) as http:
        events = await sse_events(http, f"/v1/debug/stream/{first.id}")
    _ = [c async for c in stream]
    check_tool_run(events)


async def test_debug_stream_is_the_owners_only(variant: str) -> None:
    alice, bob = ({"x-api-key": KEYS[u]} for u in ("alice", "bob"))
    async with httpx.AsyncClient(base_url=variant, timeout=30) as http:
        made = await http.post(
            "/v1/chat/completions",
            json={"model": "agent", "messages": user("calculate 6*7")},
            headers=alice,
        )
        assert made.status_code == 200
        started = await http.post("/v1/runs", json={"input": "hello"}, headers=alice)
        for request_id in (made.json()["id"], started.json()["run_id"]):
            assert (
                await http.get(f"/v1/debug/stream/{request_id}", headers=bob)
            ).status_code == 404
            assert (await http.get(f"/v1/debug/stream/{request_id}")).status_code == 401
            events = await sse_events(http, f"/v1/debug/stream/{request_id}", headers=alice)
            assert events[-1] == ("run.completed", {"status": "success"})


# 8. transcription -----------------------------------------------------------------------
async def test_transcription_of_a_generated_wav(
    deployment: Deployment, oai: openai.AsyncOpenAI
) -> None:
    audio = tone_wav(1.5)
    heard = await oai.audio.transcriptions.create(
        model="whisper-1", file=("tone.wav", audio, "audio/wav"), language="en"
    )
    assert heard.text == "[simulated] 1.50 s of audio"
    text = await oai.audio.transcriptions.create(
        model="whisper-1", file=("tone.wav", audio, "audio/wav"), response_format="text"
    )
    assert str(text).strip() == "[simulated] 1.50 s of audio"
    verbose = await oai.audio.transcriptions.create(
        model="whisper-1",
        file=("short.wav", tone_wav(0.25), "audio/wav"),
        response_format="verbose_json",
        language="de",
        temperature=0.2,
        prompt="a tone",
    )
    assert verbose.duration == 0.25 and verbose.language == "de"
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=60) as http:
        assert (await http.get("/api/transcribe/health")).json() == {"status": "ok"}


async def test_transcription_refusals(deployment: Deployment) -> None:
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=60) as http:

        async def send(files: dict[str, Any], data: dict[str, str] | None = None) -> httpx.Response:
            return await http.post(
                "/v1/audio/transcriptions", files=files, data={"model": "whisper-1", **(data or {})}
            )

        big = b"RIFF" + b"\x00" * (25 * 1024 * 1024)
        too_large = await send({"file": ("big.wav", big, "audio/wav")})
        assert too_large.status_code == 413 and too_large.json()["error"]["param"] == "file"
        text = await send({"file": ("notes.txt", b"hello", "text/plain")})
        assert text.status_code == 415
        not_form = await http.post("/v1/audio/transcriptions", json={"model": "whisper-1"})
        assert not_form.status_code == 415
        no_model = await http.post(
            "/v1/audio/transcriptions", files={"file": ("a.wav", tone_wav(0.1), "audio/wav")}
        )
        assert no_model.status_code == 422 and no_model.json()["error"]["param"] == "model"
        bad_format = await send(
            {"file": ("a.wav", tone_wav(0.1), "audio/wav")}, {"response_format": "srt"}
        )
        assert bad_format.status_code == 400
        # Not audio the server can decode: its 400 comes back in OpenAI's shape.
        garbage = await send({"file": ("noise.wav", b"not a wav file", "audio/wav")})
        assert garbage.status_code == 400 and "WAV" in garbage.json()["error"]["message"]


async def test_transcription_without_an_upstream_is_503(variant: str) -> None:
    alice = {"x-api-key": KEYS["alice"]}
    async with httpx.AsyncClient(base_url=variant, timeout=30) as http:
        health = await http.get("/api/transcribe/health", headers=alice)
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        sent = await http.post(
            "/v1/audio/transcriptions",
            files={"file": ("a.wav", tone_wav(0.1), "audio/wav")},
            data={"model": "whisper-1"},
            headers=alice,
        )
        assert sent.status_code == 503 and sent.json()["error"]["type"] == "unavailable"

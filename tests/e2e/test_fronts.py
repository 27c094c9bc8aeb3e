"""The protocol fronts, each with a real client: openai, httpx + SSE, a WebSocket client."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
import websockets
from langgraph_sdk import get_client

from tests.e2e.harness import Deployment

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


# OpenAI-compatible gateway -------------------------------------------------------------
@pytest.fixture
def oai(deployment: Deployment) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=deployment.base_url + "/v1", api_key="unused", max_retries=0)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


async def test_openai_models_lists_graphs_and_assistants(oai: openai.AsyncOpenAI) -> None:
    ids = [m.id async for m in oai.models.list()]
    assert "agent" in ids and "fe096781-5601-53d2-b2f6-0d3403f7e9ca" in ids


async def test_openai_stream_deltas_equal_the_final_answer(oai: openai.AsyncOpenAI) -> None:
    stream = await oai.chat.completions.create(
        model="agent", messages=user("hello"), stream=True, stream_options={"include_usage": True}
    )
    chunks = [c async for c in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["stop"]
    assert (
        chunks[-1].choices == []
        and chunks[-1].usage is not None
        and chunks[-1].usage.completion_tokens > 0
    )
    whole = await oai.chat.completions.create(model="agent", messages=user("hello"))
    assert text == whole.choices[0].message.content == "Hello! I am the Headwater simulator."
    assert whole.object == "chat.completion" and whole.usage.total_tokens > 0


async def test_openai_stream_shows_tool_calls(oai: openai.AsyncOpenAI) -> None:
    stream = await oai.chat.completions.create(
        model="fe096781-5601-53d2-b2f6-0d3403f7e9ca", messages=user("calculate 6*7"), stream=True
    )
    chunks = [c async for c in stream]
    calls = [
        t
        for c in chunks
        if c.choices and c.choices[0].delta.tool_calls
        for t in c.choices[0].delta.tool_calls
    ]
    assert calls[0].function.name == "calculator" and calls[0].id
    assert json.loads("".join(t.function.arguments or "" for t in calls)) == {"expression": "6*7"}
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        == "The tool returned: 42."
    )


async def test_openai_history_and_sampling_parameters(oai: openai.AsyncOpenAI) -> None:
    history = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hi."},
        {"role": "user", "content": "tell me a story"},
    ]
    capped = await oai.chat.completions.create(
        model="agent", messages=history, max_tokens=4, temperature=0.2
    )
    assert capped.choices[0].finish_reason == "length"
    assert capped.choices[0].message.content.startswith("[simulated]")
    assert (
        len(capped.choices[0].message.content.split()) == 4 + 0
        or capped.usage.completion_tokens == 4
    )
    stopped = await oai.chat.completions.create(
        model="agent", messages=user("hello"), stop=["simulator"]
    )
    assert stopped.choices[0].message.content == "Hello! I am the Headwater "


async def test_openai_image_parts_reach_the_model(oai: openai.AsyncOpenAI) -> None:
    pixel = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    content = [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": pixel}},
    ]
    reply = await oai.chat.completions.create(
        model="agent", messages=[{"role": "user", "content": content}]
    )
    assert reply.choices[0].message.content == "I see 1 image(s)."


async def test_openai_errors(oai: openai.AsyncOpenAI, deployment: Deployment) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        await oai.chat.completions.create(model="no-such-model", messages=user("hi"))
    assert missing.value.status_code == 404 and "no-such-model" in missing.value.message
    with pytest.raises(openai.UnprocessableEntityError):  # more in tests/e2e/test_gateway.py
        await oai.chat.completions.create(model="agent", messages=[])
    async with httpx.AsyncClient(base_url=deployment.base_url) as http:
        for body, status in (
            (b"{", 400),
            (b"[]", 422),
            (b'{"model":"agent"}', 422),
            (b'{"model":"agent","messages":[{"role":"wizard"}]}', 422),
            (
                b'{"model":"agent","messages":[{"role":"user","content":"x"}],"temperature":"hot"}',
                422,
            ),
        ):
            r = await http.post(
                "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
            )
            assert r.status_code == status, body
            assert r.json()["error"]["type"] == "invalid_request_error"


# Simple run API ----------------------------------------------------------------------
async def sse(http: httpx.AsyncClient, path: str) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    async with http.stream("GET", path) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith(
            "text/event-stream"
        )
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                yield event, json.loads(line[6:])


async def test_simple_run_streams_events(deployment: Deployment) -> None:
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=30) as http:
        started = await http.post("/v1/runs", json={"input": "calculate 6*7"})
        assert started.status_code == 202 and started.json()["status"] == "started"
        run_id = started.json()["run_id"]
        assert run_id.startswith("run_") and len(run_id) == 36
        events = [e async for e in sse(http, f"/v1/runs/{run_id}/events")]
    names = [name for name, _ in events]
    assert names[0] == "run.started" and names[-1] == "run.completed"
    tool_started = next(d for n, d in events if n == "tool.started")
    assert tool_started["tool"] == "calculator" and tool_started["args"] == {"expression": "6*7"}
    assert next(d for n, d in events if n == "tool.completed")["output"] == "42"
    deltas = "".join(d["delta"] for n, d in events if n == "message.delta")
    completed = events[-1][1]
    assert (
        completed["output"] == deltas == "The tool returned: 42."
        and completed["usage"]["total_tokens"] > 0
    )


async def test_simple_run_stop_and_errors(deployment: Deployment) -> None:
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=30) as http:
        for body in (b"{nope", b"{}", b'{"input": ""}', b'{"input": "   "}', b'{"input": 5}'):
            r = await http.post(
                "/v1/runs", content=body, headers={"content-type": "application/json"}
            )
            assert r.status_code == 400 and r.json()["error"]["message"], body
        assert (await http.get(f"/v1/runs/run_{uuid.uuid4().hex}/events")).status_code == 404
        assert (await http.get("/v1/runs/nonsense/events")).status_code == 404
        assert (await http.post(f"/v1/runs/run_{uuid.uuid4().hex}/stop")).status_code == 404

        run_id = (await http.post("/v1/runs", json={"input": "a slow story"})).json()["run_id"]
        seen: list[str] = []
        async for name, data in sse(http, f"/v1/runs/{run_id}/events"):
            seen.append(name)
            if name == "message.delta" and seen.count("message.delta") == 3:
                stop = await http.post(f"/v1/runs/{run_id}/stop")
                assert stop.status_code == 200 and stop.json() == {
                    "run_id": run_id,
                    "status": "stopping",
                }
            if name == "run.failed":
                assert data["reason"] == "cancelled"
        assert seen[-1] == "run.failed" and seen.count("message.delta") < 40
        assert (await http.post(f"/v1/runs/{run_id}/stop")).status_code == 404


async def test_simple_run_session_continues_the_thread(deployment: Deployment) -> None:
    session = uuid.uuid4().hex
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=30) as http:
        for text in ("hello", "hello again"):
            run_id = (
                await http.post("/v1/runs", json={"input": text, "session_id": session})
            ).json()["run_id"]
            events = [e async for e in sse(http, f"/v1/runs/{run_id}/events")]
            assert events[-1][0] == "run.completed"
        thread_id = (
            await http.post("/v1/runs", json={"input": "hello", "session_id": session})
        ).json()["thread_id"]
    client = get_client(url=deployment.base_url)
    await client.runs.join(thread_id, (await client.runs.list(thread_id))[0]["run_id"])
    state = await client.threads.get_state(thread_id)
    assert [m["type"] for m in state["values"]["messages"]] == ["human", "ai"] * 3


# WebSocket chat ----------------------------------------------------------------------
def ws_url(deployment: Deployment) -> str:
    return deployment.base_url.replace("http://", "ws://") + "/ws"


class Inbox:
    """Messages of one socket sorted by thread, so threads can be read independently."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.by_thread: dict[str, list[dict[str, Any]]] = {}

    async def until(
        self, thread_id: str, kinds: set[str], timeout: float = 20
    ) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout):
            while True:
                queue = self.by_thread.setdefault(thread_id, [])
                while queue:
                    message = queue.pop(0)
                    got.append(message)
                    if message["type"] in kinds:
                        return got
                message = json.loads(await self.ws.recv())
                self.by_thread.setdefault(message.get("thread_id", ""), []).append(message)


async def receive_until(
    ws: Any, thread_id: str, kinds: set[str], timeout: float = 20
) -> list[dict[str, Any]]:
    return await Inbox(ws).until(thread_id, kinds, timeout)


async def test_ws_chat_streams_tokens(deployment: Deployment) -> None:
    async with websockets.connect(ws_url(deployment)) as ws:
        await ws.send(json.dumps({"type": "message", "thread_id": "t-a", "content": "hello"}))
        await ws.send(
            json.dumps({"type": "message", "thread_id": "t-b", "content": "calculate 2+3"})
        )
        inbox = Inbox(ws)
        got = await inbox.until("t-a", {"message_complete", "error"})
        tokens = "".join(m["content"] for m in got if m["type"] == "token")
        assert got[-1] == {"type": "message_complete", "thread_id": "t-a", "content": tokens}
        assert tokens == "Hello! I am the Headwater simulator."
        other = await inbox.until("t-b", {"message_complete", "error"})
        assert {
            "type": "tool_call",
            "thread_id": "t-b",
            "tool": "calculator",
            "args": {"expression": "2+3"},
            "agent": "chat",
        } in other
        assert other[-1]["content"] == "The tool returned: 5."


@pytest.mark.parametrize("approved", [True, False])
async def test_ws_approval(deployment: Deployment, approved: bool) -> None:
    thread_id = str(uuid.uuid4())
    async with websockets.connect(ws_url(deployment)) as ws:
        await ws.send(
            json.dumps(
                {
                    "type": "message",
                    "thread_id": thread_id,
                    "content": "send an email about the release",
                }
            )
        )
        got = await receive_until(ws, thread_id, {"interrupt", "error"})
        assert got[-1]["type"] == "interrupt"
        assert got[-1]["tool_calls"][0]["name"] == "send_email"
        assert any(m["type"] == "tool_call" and m["tool"] == "send_email" for m in got)
        await ws.send(
            json.dumps({"type": "interrupt_response", "thread_id": thread_id, "approved": approved})
        )
        done = await receive_until(ws, thread_id, {"message_complete", "error"})
        assert done[-1]["type"] == "message_complete", done
    state = await get_client(url=deployment.base_url).threads.get_state(thread_id)
    tool_messages = [m for m in state["values"]["messages"] if m["type"] == "tool"]
    if approved:
        assert state["values"]["sent_emails"] == [
            {"to": "team@example.com", "subject": "the release"}
        ]
        assert tool_messages[0]["content"] == "E-mail to team@example.com sent."
    else:
        assert state["values"].get("sent_emails", []) == []
        assert tool_messages[0]["content"] == "The user rejected this action."
    assert state["next"] == []


async def test_ws_errors_are_clear(deployment: Deployment) -> None:
    async with websockets.connect(ws_url(deployment)) as ws:
        cases = [
            ("{oops", "invalid_json"),
            (json.dumps({"type": "message", "content": "hi"}), "missing_thread_id"),
            (json.dumps({"type": "message", "thread_id": "x", "content": "  "}), "empty_content"),
            (
                json.dumps({"type": "message", "thread_id": "x", "content": "a" * 70_000}),
                "message_too_large",
            ),
            (json.dumps({"type": "dance", "thread_id": "x"}), "unknown_type"),
            (
                json.dumps({"type": "interrupt_response", "thread_id": "x", "approved": "yes"}),
                "invalid_message",
            ),
            (
                json.dumps({"type": "message", "thread_id": "x", "content": "a\u0000b"}),
                "invalid_message",
            ),
        ]
        for raw, code in cases:
            await ws.send(raw)
            reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert reply["type"] == "error" and reply["code"] == code and reply["message"], raw


async def test_ws_dropped_socket_loses_no_run(deployment: Deployment) -> None:
    thread_id = str(uuid.uuid4())
    async with websockets.connect(ws_url(deployment)) as ws:
        await ws.send(
            json.dumps({"type": "message", "thread_id": thread_id, "content": "a slow story"})
        )
        first = await receive_until(ws, thread_id, {"token"})
        assert first[-1]["type"] == "token"
    client = get_client(url=deployment.base_url)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        thread = await client.threads.get(thread_id)
        if thread["status"] == "idle":
            break
        await asyncio.sleep(0.2)
    messages = (await client.threads.get_state(thread_id))["values"]["messages"]
    assert [m["type"] for m in messages] == ["human", "ai"] and messages[1]["content"].startswith(
        "[simulated]"
    )


# Cross-cutting -----------------------------------------------------------------------
async def test_security_headers_cors_and_health(deployment: Deployment) -> None:
    async with httpx.AsyncClient(base_url=deployment.base_url) as http:
        for path in ("/ok", "/healthz", "/readyz", "/v1/models", "/info"):
            r = await http.get(path)
            assert r.status_code == 200, path
            assert (
                r.headers["x-content-type-options"] == "nosniff"
                and r.headers["x-frame-options"] == "DENY"
            )
        assert (await http.get("/readyz")).json()["checks"] == {"bus": "ok", "database": "ok"}
        preflight = await http.options(
            "/v1/chat/completions",
            headers={
                "Origin": "http://ui.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code in (200, 204)
        assert preflight.headers["access-control-allow-origin"] in ("*", "http://ui.example")

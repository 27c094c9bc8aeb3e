"""The WebSocket chat protocol (docs/fronts.md) with a real ``websockets`` client, the health
paths every client probes, and the chat SSE client's run-events path."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import websockets
from langgraph_sdk import get_client

from tests.e2e.harness import WS_SESSION_TTL_S, Deployment, start_dev

pytestmark = [pytest.mark.e2e, pytest.mark.k8s_local, pytest.mark.timeout(120)]
KEYS = {"alice": "key-alice", "bob": "key-bob"}


def ws_url(deployment: Deployment, query: str = "") -> str:
    return deployment.base_url.replace("http://", "ws://") + "/ws" + query


class Inbox:
    """One socket's messages sorted by thread, so conversations can be read independently."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.by_thread: dict[str, list[dict[str, Any]]] = {}

    async def send(self, message: dict[str, Any] | str) -> None:
        await self.ws.send(message if isinstance(message, str) else json.dumps(message))

    async def until(
        self, thread_id: str, kinds: set[str], timeout: float = 30
    ) -> list[dict[str, Any]]:
        """Messages of ``thread_id`` ("" for those without one) up to one of ``kinds``."""
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

    async def refused(self, raw: str, thread_id: str = "") -> dict[str, Any]:
        """Send ``raw``; the error it gets (checked to be the next message of its thread)."""
        await self.send(raw)
        got = await self.until(thread_id, {"error"}, timeout=10)
        assert len(got) == 1, got
        return got[0]


async def ask(inbox: Inbox, name: str, content: str = "cancel order 1042") -> dict[str, Any]:
    """Start a ws_orders conversation; its interrupt message."""
    await inbox.send(
        {"type": "message", "thread_id": name, "content": content, "assistant_id": "ws_orders"}
    )
    got = await inbox.until(name, {"interrupt", "error", "message_complete"})
    assert got[-1]["type"] == "interrupt", got
    return got[-1]


async def answer(inbox: Inbox, name: str, **fields: Any) -> str:
    """Answer the pending interrupt; the conversation's final message."""
    await inbox.send({"type": "interrupt_response", "thread_id": name, **fields})
    got = await inbox.until(name, {"message_complete", "error", "interrupt"})
    assert got[-1]["type"] == "message_complete", got
    return str(got[-1]["content"])


async def conversation(client: Any, name: str) -> list[dict[str, Any]]:
    """The threads whose metadata names the client's conversation ``name``."""
    return list(await client.threads.search(metadata={"ws_thread_name": name}))


async def values(client: Any, thread: dict[str, Any]) -> dict[str, Any]:
    """A thread's current state values."""
    state: dict[str, Any] = await client.threads.get_state(thread["thread_id"])
    assert state["next"] == []
    return dict(state["values"])


async def test_one_socket_speaks_the_whole_protocol(deployment: Deployment) -> None:
    tag = uuid.uuid4().hex[:8]
    approve, reject, rich = f"approve-{tag}", f"reject-{tag}", f"rich-{tag}"
    client = get_client(url=deployment.base_url)
    async with websockets.connect(ws_url(deployment), max_size=None) as ws:
        inbox = Inbox(ws)
        interrupt = await ask(inbox, approve)
        assert set(interrupt) == {"type", "thread_id", "action", "order_id", "interrupt_id"}
        assert interrupt["type"] == "interrupt" and interrupt["thread_id"] == approve
        assert (interrupt["action"], interrupt["order_id"]) == ("cancel_order", "1042")
        assert isinstance(interrupt["interrupt_id"], str) and interrupt["interrupt_id"]
        assert await answer(inbox, approve, approved=True) == "Order 1042: approved."
        approved_at = time.monotonic()

        await ask(inbox, reject)  # a bare False must take the graph's reject branch
        assert await answer(inbox, reject, approved=False) == "Order 1042: rejected."

        pending = await ask(inbox, rich)  # a richer answer, for the interrupt it names
        done = await answer(
            inbox, rich, value={"refund": "partial"}, interrupt_id=pending["interrupt_id"]
        )
        assert done == "Order 1042: other: {'refund': 'partial'}."

        big = json.dumps({"type": "message", "thread_id": approve, "content": "a" * 40_000})
        for raw in (big, "{" + "x" * 40_000):  # refused before parsing: even invalid JSON
            reply = await inbox.refused(raw)
            assert reply["code"] == "message_too_large" and "too large" in reply["message"]
        assert (await inbox.refused("{oops"))["code"] == "invalid_json"
        missing = json.dumps({"type": "message", "content": "hi"})
        assert (await inbox.refused(missing))["code"] == "missing_thread_id"
        empty = json.dumps({"type": "message", "thread_id": approve, "content": "  "})
        assert (await inbox.refused(empty, approve))["code"] == "empty_content"
        vague = json.dumps({"type": "interrupt_response", "thread_id": reject, "approved": "no"})
        assert (await inbox.refused(vague, reject))["code"] == "invalid_message"

        for name, outcome in ((approve, "approved"), (reject, "rejected")):
            [thread] = await conversation(client, name)  # found by the name in its metadata
            state = await values(client, thread)
            assert state["outcome"] == outcome
            assert state["thread_name"] == name  # the graph read it from its config

        await asyncio.sleep(max(0.0, approved_at + WS_SESSION_TTL_S + 0.5 - time.monotonic()))
        await inbox.send({"type": "message", "thread_id": approve, "content": "hello again"})
        expired = (await inbox.until(approve, {"error", "interrupt", "message_complete"}))[-1]
        assert expired["type"] == "error" and expired["thread_id"] == approve
        assert "expired" in expired["message"] and expired["code"] == "session_expired"
        assert await conversation(client, approve) == []  # an expired conversation is deleted
        again = await ask(inbox, approve)  # the name starts a new conversation
        assert again["interrupt_id"] != interrupt["interrupt_id"]
        assert await answer(inbox, approve, approved=False) == "Order 1042: rejected."
    [thread] = await conversation(client, approve)
    messages = (await values(client, thread))["messages"]
    assert [m["content"] for m in messages] == ["cancel order 1042", "Order 1042: rejected."]


async def test_tokens_and_tool_calls_name_their_agent(deployment: Deployment) -> None:
    name = f"agent-{uuid.uuid4().hex[:8]}"
    async with websockets.connect(ws_url(deployment)) as ws:
        inbox = Inbox(ws)
        await inbox.send({"type": "message", "thread_id": name, "content": "calculate 2+3"})
        got = await inbox.until(name, {"message_complete", "error"})
    assert got[-1] == {
        "type": "message_complete",
        "thread_id": name,
        "content": "The tool returned: 5.",
    }
    calls = [m for m in got if m["type"] == "tool_call"]
    assert calls == [
        {
            "type": "tool_call",
            "thread_id": name,
            "tool": "calculator",
            "args": {"expression": "2+3"},
            "agent": "chat",
        }
    ]
    tokens = [m for m in got if m["type"] == "token"]
    assert tokens and {m["agent"] for m in tokens} == {"chat"}
    assert "".join(m["content"] for m in tokens).endswith("The tool returned: 5.")


async def test_health_paths(deployment: Deployment) -> None:
    urls = [deployment.base_url + "/health", deployment.base_url + "/api/health"]
    memory_port = deployment.env_by_process.get("memory", {}).get("HEADWATER_PORT")
    if memory_port is not None:  # cluster mode runs the memory service on its own port
        urls.append(f"http://127.0.0.1:{memory_port}/health")
    async with httpx.AsyncClient() as http:
        for url in urls:
            response = await http.get(url)
            assert (response.status_code, response.json()) == (200, {"status": "ok"}), url


async def sse_events(http: httpx.AsyncClient, path: str) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    async with http.stream("GET", path) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                events.append((event, json.loads(line[6:])))
    return events


async def test_chat_run_events_path_serves_the_run_events(deployment: Deployment) -> None:
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=30) as http:
        run_id = (await http.post("/v1/runs", json={"input": "calculate 6*7"})).json()["run_id"]
        alias = await sse_events(http, f"/api/v1/chat/runs/{run_id}/events")
        original = await sse_events(http, f"/v1/runs/{run_id}/events")
        for path in (
            f"/api/v1/chat/runs/run_{uuid.uuid4().hex}/events",
            "/api/v1/chat/runs/x/events",
        ):
            missing = await http.get(path)
            assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert alias == original
    assert alias[0][0] == "run.started" and alias[-1][0] == "run.completed"
    assert alias[-1][1]["output"] == "The tool returned: 42."


# A dev deployment of its own: conversations expire at once, and callers need an API key ---
@pytest.fixture(scope="module")
def strict() -> Iterator[Deployment]:
    deployment = start_dev(
        {
            "HEADWATER_WS_SESSION_TTL_S": "0",
            "HEADWATER_AUTH": "apikey",
            "HEADWATER_API_KEYS": ",".join(f"{k}:{u}" for u, k in KEYS.items()),
        }
    )
    yield deployment
    deployment.stop()


async def closed_with(url: str, **connect: Any) -> websockets.frames.Close:
    async with websockets.connect(url, **connect) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None
    return closed.value.rcvd


async def test_bad_or_missing_credentials_close_the_socket_with_4401(strict: Deployment) -> None:
    missing = await closed_with(ws_url(strict))
    assert missing.code == 4401 and "Missing credentials" in missing.reason
    bad = await closed_with(ws_url(strict, "?token=nope"))
    assert (bad.code, bad.reason) == (4401, "Invalid API key")
    bad_header = await closed_with(ws_url(strict), additional_headers={"x-api-key": "nope"})
    assert bad_header.code == 4401


async def test_a_zero_ttl_expires_a_conversation_at_once(strict: Deployment) -> None:
    name = f"ttl0-{uuid.uuid4().hex[:8]}"
    async with websockets.connect(ws_url(strict, f"?token={KEYS['alice']}")) as ws:
        inbox = Inbox(ws)
        for turn in range(3):  # new, then expired (and deleted), then new again
            await inbox.send({"type": "message", "thread_id": name, "content": "hello"})
            last = (await inbox.until(name, {"message_complete", "error"}))[-1]
            if turn == 1:
                assert last["type"] == "error" and "expired" in last["message"], last
            else:
                assert last["type"] == "message_complete", last
    client = get_client(url=strict.base_url, api_key=KEYS["alice"])
    [thread] = await conversation(client, name)
    messages = (await values(client, thread))["messages"]
    assert [m["type"] for m in messages] == ["human", "ai"]


async def test_health_is_public_and_run_events_are_the_owners(strict: Deployment) -> None:
    async with httpx.AsyncClient(base_url=strict.base_url, timeout=30) as http:
        for path in ("/health", "/api/health"):
            assert (await http.get(path)).json() == {"status": "ok"}
        assert (await http.post("/threads/search", json={})).status_code == 401
        alice, bob = ({"x-api-key": KEYS[u]} for u in ("alice", "bob"))
        started = await http.post("/v1/runs", json={"input": "hello"}, headers=alice)
        path = f"/api/v1/chat/runs/{started.json()['run_id']}/events"
        assert (await http.get(path)).status_code == 401
        assert (await http.get(path, headers=bob)).status_code == 404
        events = [e async for e in stream(http, path, alice)]
    assert events[-1].startswith("event: run.completed")


async def stream(http: httpx.AsyncClient, path: str, headers: dict[str, str]) -> AsyncIterator[str]:
    async with http.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                yield line

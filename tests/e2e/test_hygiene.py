"""HTTP hygiene: slow clients timed out, oversized headers refused, security headers on every
answer, ``?token=`` only on the WebSocket, another user's thread id a 404 on create, and the
memory service closed to callers without the service token."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
import websockets

from tests.e2e.harness import Deployment, start_dev

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]
TIMEOUT_S = 1.5
KEYS = {"alice": "key-alice-" + uuid.uuid4().hex, "bob": "key-bob-" + uuid.uuid4().hex}
SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


@pytest.fixture(scope="module")
def strict() -> Iterator[Deployment]:
    """``headwater dev`` with API keys and short read timeouts."""
    deployment = start_dev(
        {
            "HEADWATER_AUTH": "apikey",
            "HEADWATER_API_KEYS": ",".join(f"{key}:{user}" for user, key in KEYS.items()),
            "HEADWATER_HEADER_TIMEOUT_S": str(TIMEOUT_S),
            "HEADWATER_BODY_TIMEOUT_S": str(TIMEOUT_S),
        }
    )
    yield deployment
    deployment.stop()


def as_user(user: str) -> dict[str, str]:
    return {"x-api-key": KEYS[user]}


def _open(base_url: str) -> socket.socket:
    address = urlsplit(base_url)
    sock = socket.create_connection((address.hostname, address.port))
    sock.settimeout(30)
    return sock


def _answer(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    started, received = time.monotonic(), b""
    while chunk := sock.recv(65536):
        received += chunk
    sock.close()
    return received, time.monotonic() - started


async def test_slow_headers_and_bodies_are_timed_out(strict: Deployment) -> None:
    def slow_clients() -> list[tuple[bytes, float]]:
        idle = _open(strict.base_url)
        headers = _open(strict.base_url)
        headers.sendall(b"GET /ok HTTP/1.1\r\nhost: x\r\n")  # and never the blank line
        body = _open(strict.base_url)
        body.sendall(
            b"POST /threads HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"x-api-key: " + KEYS["alice"].encode() + b"\r\ncontent-length: 100\r\n\r\n{"
        )
        return [_answer(idle), _answer(headers), _answer(body)]

    (idle, idle_s), (headers, headers_s), (body, body_s) = await asyncio.to_thread(slow_clients)
    assert idle == b"" and idle_s < TIMEOUT_S + 5, "an idle connection is closed, silently"
    assert headers.startswith(b"HTTP/1.1 408 ") and headers_s < TIMEOUT_S + 5, headers
    assert b"headers were not received in time" in headers
    assert body.startswith(b"HTTP/1.1 408 ") and body_s < TIMEOUT_S + 5, body
    assert b"body was not received in time" in body and b"x-frame-options: DENY" in body
    async with httpx.AsyncClient(base_url=strict.base_url, headers=as_user("alice")) as http:
        assert (await http.post("/threads/search", json={})).status_code == 200


async def test_long_streams_and_websockets_outlive_the_read_timeouts(strict: Deployment) -> None:
    """The deadlines cover reading a request, not answering it."""
    async with httpx.AsyncClient(
        base_url=strict.base_url, headers=as_user("alice"), timeout=30
    ) as http:
        thread = (await http.post("/threads", json={})).json()["thread_id"]
        async with http.stream("GET", f"/threads/{thread}/stream") as stream:
            assert stream.status_code == 200
            await asyncio.sleep(TIMEOUT_S * 2.5)
            run = await http.post(
                f"/threads/{thread}/runs",
                json={
                    "assistant_id": "agent",
                    "input": {"messages": [{"role": "user", "content": "hi"}]},
                },
            )
            assert run.status_code == 200, run.text

            async def until_answer() -> str:
                seen = ""
                async for text in stream.aiter_text():
                    seen += text
                    if '"type":"ai"' in seen:
                        return seen
                return seen

            seen = await asyncio.wait_for(until_answer(), 30)
            assert '"type":"ai"' in seen, seen[:500]
    ws = strict.base_url.replace("http://", "ws://") + f"/ws?token={KEYS['alice']}"
    async with websockets.connect(ws) as chat:
        await asyncio.sleep(TIMEOUT_S * 2.5)
        await chat.send(json.dumps({"type": "message", "thread_id": "t-h", "content": "hello"}))
        assert json.loads(await asyncio.wait_for(chat.recv(), 20))["type"] == "token"


async def test_token_in_the_query_only_on_the_websocket(strict: Deployment) -> None:
    async with httpx.AsyncClient(base_url=strict.base_url) as http:
        in_url = await http.post("/threads/search", params={"token": KEYS["alice"]}, json={})
        assert in_url.status_code == 401 and "www-authenticate" in in_url.headers
        assert in_url.headers["x-frame-options"] == "DENY"
        in_header = await http.post("/threads/search", json={}, headers=as_user("alice"))
        assert in_header.status_code == 200
        bearer = {"authorization": f"Bearer {KEYS['bob']}"}
        assert (await http.post("/threads/search", json={}, headers=bearer)).status_code == 200
    ws = strict.base_url.replace("http://", "ws://") + f"/ws?token={KEYS['bob']}"
    async with websockets.connect(ws) as chat:
        await chat.send(json.dumps({"type": "message", "thread_id": "t-q", "content": "hello"}))
        assert json.loads(await asyncio.wait_for(chat.recv(), 20))["type"] == "token"


async def test_another_users_thread_id_is_not_found_on_create(strict: Deployment) -> None:
    thread_id = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=strict.base_url) as http:
        created = await http.post(
            "/threads", json={"thread_id": thread_id}, headers=as_user("alice")
        )
        assert created.status_code == 200
        for if_exists in ("raise", "do_nothing"):
            body = {"thread_id": thread_id, "if_exists": if_exists}
            bobs = await http.post("/threads", json=body, headers=as_user("bob"))
            assert bobs.status_code == 404, bobs.text
            assert bobs.json() == {"detail": f"Thread with ID {thread_id} not found"}
            got = await http.get(f"/threads/{thread_id}", headers=as_user("bob"))
            assert got.status_code == 404 and got.json() == bobs.json(), "the same answer as get"
        again = await http.post("/threads", json={"thread_id": thread_id}, headers=as_user("alice"))
        assert again.status_code == 409
        same = await http.post(
            "/threads",
            json={"thread_id": thread_id, "if_exists": "do_nothing"},
            headers=as_user("alice"),
        )
        assert same.status_code == 200 and same.json()["thread_id"] == thread_id
        run = await http.post(
            f"/threads/{thread_id}/runs",
            json={"assistant_id": "agent", "input": {}, "if_not_exists": "create"},
            headers=as_user("bob"),
        )
        assert run.status_code == 404, "nor can another user's run create it"


async def test_security_headers_on_every_answer(deployment: Deployment) -> None:
    async with httpx.AsyncClient(base_url=deployment.base_url) as http:
        thread = (await http.post("/threads", json={})).json()["thread_id"]
        answers = {
            200: await http.get("/ok"),
            404: await http.get("/no/such/route"),
            405: await http.delete("/ok"),
            400: await http.post(
                "/threads", content=b"{", headers={"content-type": "application/json"}
            ),
            422: await http.post("/threads", json={"metadata": "x"}),
            409: await http.post("/threads", json={"thread_id": thread}),
        }
        missing = await http.get(f"/threads/{uuid.uuid4()}")
        answers[missing.status_code] = missing
        for status, answer in answers.items():
            assert answer.status_code == status, (status, answer.text)
            for name, value in SECURITY.items():
                assert answer.headers.get(name) == value, (status, name, answer.headers)
            assert len(answer.headers.get_list("x-frame-options")) == 1, "set once, not twice"


async def test_oversized_headers_are_refused(deployment: Deployment) -> None:
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=30) as http:
        huge = await http.get("/ok", headers={"x-big": "a" * 1_000_000})
        assert huge.status_code == 431 and "exceed" in huge.json()["detail"]
        assert huge.headers["x-content-type-options"] == "nosniff"
        many = await http.get("/ok", headers={f"x-h{i}": "v" * 100 for i in range(400)})
        assert many.status_code == 431
        assert (await http.get("/ok", headers={"x-fine": "a" * 8000})).status_code == 200


async def test_many_slow_header_clients_are_dropped(deployment: Deployment) -> None:
    """40 clients that never finish their headers (the default 10 s deadline): all are closed
    in time, and the server answers others meanwhile."""

    def hold() -> list[tuple[bytes, float]]:
        socks = [_open(deployment.base_url) for _ in range(40)]
        for sock in socks:
            sock.sendall(b"GET /ok HTTP/1.1\r\nhost: x\r\nx-slow: ")
        return [_answer(sock) for sock in socks]

    holding = asyncio.create_task(asyncio.to_thread(hold))
    await asyncio.sleep(1)
    async with httpx.AsyncClient(base_url=deployment.base_url) as http:
        assert (await http.get("/ok")).status_code == 200
    answers = await asyncio.wait_for(holding, 40)
    assert all(a.startswith(b"HTTP/1.1 408 ") for a, _ in answers), answers[0]
    assert max(seconds for _, seconds in answers) < 25


def test_memory_service_refuses_callers_without_the_service_token(
    cluster_deployment: Deployment,
) -> None:
    memory = cluster_deployment.env["HEADWATER_MEMORY_URL"]
    token = cluster_deployment.env["HEADWATER_SERVICE_TOKEN"]
    params = {"namespace": "notes", "key": "k"}
    owner = {"x-headwater-owner": "alice"}
    with httpx.Client(base_url=memory, timeout=10) as http:
        assert http.get("/healthz").status_code == 200
        assert http.get("/readyz").status_code == 200
        for headers in (owner, {**owner, "x-headwater-service-token": "guess"}):
            refused = http.get("/store/items", params=params, headers=headers)
            assert refused.status_code == 401, refused.text
            put = http.put(
                "/store/items",
                json={"namespace": ["notes"], "key": "k", "value": {"v": 1}},
                headers=headers,
            )
            assert put.status_code == 401
        trusted = {**owner, "x-headwater-service-token": token}
        assert http.get("/store/items", params=params, headers=trusted).status_code == 200
    with httpx.Client(base_url=cluster_deployment.base_url, timeout=10) as api:
        # The API and workers hold the token: the store works through the API.
        put = api.put("/store/items", json={"namespace": ["notes"], "key": "k", "value": {"v": 2}})
        assert put.status_code == 204, put.text
        got = api.get("/store/items", params=params)
        assert got.status_code == 200 and got.json()["value"] == {"v": 2}

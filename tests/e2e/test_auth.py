"""Authentication and isolation: users A and B and an anonymous caller on every front (NATS mode)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
import websockets
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.harness import Deployment, start_cluster, start_dev
from tests.services import NatsServer, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]
SECRET = "test-secret-" + uuid.uuid4().hex
PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def hs256(sub: str, **claims: Any) -> str:
    return jwt.encode(
        {"sub": sub, "exp": int(time.time()) + 600, **claims}, SECRET, algorithm="HS256"
    )


def rs256(sub: str, **claims: Any) -> str:
    return jwt.encode(
        {"sub": sub, "exp": int(time.time()) + 600, **claims},
        PRIVATE_KEY,
        algorithm="RS256",
        headers={"kid": "k1"},
    )


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(PRIVATE_KEY.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()


@pytest.fixture(scope="module")
def secured(nats_server: NatsServer, pg_url: str, jwks_url: str) -> Iterator[Deployment]:
    deployment = start_cluster(nats_server.url, pg_url, f"auth{uuid.uuid4().hex[:8]}", workers=1)
    deployment.env.update(
        HEADWATER_AUTH="jwt", HEADWATER_JWT_SECRET=SECRET, HEADWATER_JWKS_URL=jwks_url
    )
    deployment.kill("api")
    deployment.spawn("api", "api")  # the API again, now with authentication
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(deployment.base_url + "/readyz").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield deployment
    deployment.stop()


A = {"Authorization": f"Bearer {hs256('user-a')}"}
B = {"Authorization": f"Bearer {rs256('user-b')}"}
ANON: dict[str, str] = {}


async def test_every_front_isolates_users(secured: Deployment) -> None:
    async with httpx.AsyncClient(base_url=secured.base_url, timeout=30) as http:
        thread = (await http.post("/threads", json={"metadata": {"who": "a"}}, headers=A)).json()
        tid = thread["thread_id"]
        done = await http.post(
            f"/threads/{tid}/runs/wait",
            json={"assistant_id": "counter", "input": {"steps": 1}},
            headers=A,
        )
        assert done.status_code == 200 and done.json()["log"] == ["step 1"]
        rid = (await http.get(f"/threads/{tid}/runs", headers=A)).json()[0]["run_id"]
        slow = (
            await http.post(
                f"/threads/{tid}/runs",
                json={"assistant_id": "counter", "input": {"steps": 60, "delay": 0.05}},
                headers=A,
            )
        ).json()
        simple = (await http.post("/v1/runs", json={"input": "hello"}, headers=A)).json()["run_id"]
        assistant = (
            await http.post("/assistants", json={"graph_id": "agent", "name": "a's"}, headers=A)
        ).json()["assistant_id"]

        probes: list[tuple[str, str, dict[str, Any] | None]] = [
            ("GET", f"/threads/{tid}", None),
            ("PATCH", f"/threads/{tid}", {"metadata": {"x": 1}}),
            ("GET", f"/threads/{tid}/state", None),
            ("GET", f"/threads/{tid}/history", None),
            ("POST", f"/threads/{tid}/history", {}),
            ("POST", f"/threads/{tid}/state", {"values": {"count": 9}}),
            ("GET", f"/threads/{tid}/runs", None),
            ("GET", f"/threads/{tid}/runs/{rid}", None),
            ("GET", f"/threads/{tid}/runs/{rid}/join", None),
            ("GET", f"/threads/{tid}/runs/{rid}/stream", None),
            ("POST", f"/threads/{tid}/runs/{slow['run_id']}/cancel", None),
            ("DELETE", f"/threads/{tid}/runs/{rid}", None),
            ("POST", f"/threads/{tid}/runs", {"assistant_id": "counter", "input": {"steps": 1}}),
            (
                "POST",
                f"/threads/{tid}/runs/stream",
                {"assistant_id": "counter", "input": {"steps": 1}},
            ),
            (
                "POST",
                f"/threads/{tid}/runs/wait",
                {"assistant_id": "counter", "input": {"steps": 1}},
            ),
            ("GET", f"/threads/{tid}/stream", None),
            ("POST", f"/threads/{tid}/copy", None),
            ("POST", f"/threads/{tid}/runs/{slow['run_id']}/cancel?action=rollback", None),
            ("GET", f"/v1/runs/{simple}/events", None),
            ("POST", f"/v1/runs/{simple}/stop", None),
            ("GET", f"/assistants/{assistant}", None),
            ("PATCH", f"/assistants/{assistant}", {"name": "stolen"}),
            ("DELETE", f"/assistants/{assistant}", None),
            ("DELETE", f"/threads/{tid}", None),
        ]
        for method, path, body in probes:
            as_b = await http.request(method, path, json=body, headers=B)
            assert as_b.status_code == 404, (method, path, as_b.status_code, as_b.text)
            assert "user-a" not in as_b.text
            anonymous = await http.request(method, path, json=body, headers=ANON)
            assert anonymous.status_code == 401, (method, path)
            assert anonymous.headers["www-authenticate"].startswith("Bearer")
            assert anonymous.json()["detail"].startswith("Missing credentials")

        pruned = await http.post("/threads/prune", json={"thread_ids": [tid]}, headers=B)
        assert pruned.json() == {"pruned_count": 0}
        assert (await http.get(f"/threads/{tid}", headers=A)).status_code == 200
        assert (await http.post("/threads/search", json={}, headers=B)).json() == []
        assert await (await http.post("/threads/count", json={}, headers=B)).aread() == b"0"
        assert assistant not in {
            a["assistant_id"]
            for a in (await http.post("/assistants/search", json={}, headers=B)).json()
        }
        assert (
            await http.post("/runs/cancel", json={"status": "all"}, headers=B)
        ).status_code == 204
        assert (await http.get(f"/threads/{tid}/runs/{slow['run_id']}", headers=A)).json()[
            "status"
        ] in ("pending", "running")

        # A still owns everything, B's own work is B's.
        assert (await http.get(f"/threads/{tid}", headers=A)).json()["metadata"]["who"] == "a"
        owned = (await http.post("/threads/search", json={}, headers=A)).json()
        assert tid in {t["thread_id"] for t in owned} and len(owned) == 2, (
            "its thread and the simple run's"
        )
        mine = await http.post(
            "/runs/wait", json={"assistant_id": "counter", "input": {"steps": 1}}, headers=B
        )
        assert mine.status_code == 200
        chat = await http.post(
            "/v1/chat/completions",
            json={"model": "agent", "messages": [{"role": "user", "content": "hello"}]},
            headers=B,
        )
        assert chat.status_code == 200
        assert (
            await http.post("/v1/chat/completions", json={"model": "agent", "messages": []})
        ).status_code == 401
        await http.post(f"/threads/{tid}/runs/{slow['run_id']}/cancel", headers=A)

    ws = secured.base_url.replace("http://", "ws://") + "/ws"
    async with websockets.connect(ws, additional_headers=B) as socket:
        await socket.send(json.dumps({"type": "message", "thread_id": tid, "content": "hello"}))
        reply = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert (
            reply["type"] == "error"
            and reply["code"] == "run_rejected"
            and "not found" in reply["message"]
        )
    async with websockets.connect(ws + f"?token={hs256('user-a')}") as socket:
        await socket.send(
            json.dumps({"type": "message", "thread_id": str(uuid.uuid4()), "content": "hello"})
        )
        assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "token"
    async with websockets.connect(ws) as socket:  # accepted, then closed with 4401
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_bad_credentials_are_401_and_say_why(secured: Deployment) -> None:
    async with httpx.AsyncClient(base_url=secured.base_url) as http:
        expired = jwt.encode(
            {"sub": "a", "exp": int(time.time()) - 3600}, SECRET, algorithm="HS256"
        )
        cases = {
            expired: "Token expired",
            jwt.encode(
                {"sub": "a", "exp": int(time.time()) + 60},
                "wrong-secret-of-at-least-32-bytes!!",
                algorithm="HS256",
            ): "Invalid token",
            jwt.encode({"exp": int(time.time()) + 60}, SECRET, algorithm="HS256"): "Invalid token",
            "not-a-jwt": "Invalid token",
        }
        for token, reason in cases.items():
            r = await http.post(
                "/threads/search", json={}, headers={"Authorization": f"Bearer {token}"}
            )
            assert r.status_code == 401 and r.json()["detail"].startswith(reason), (token, r.text)
            assert 'error="invalid_token"' in r.headers["www-authenticate"]
        assert (await http.get("/ok")).status_code == 200, "health stays public"


async def test_api_keys() -> None:
    deployment = start_dev(
        extra_env={"HEADWATER_AUTH": "apikey", "HEADWATER_API_KEYS": "key-a:alice,key-b:bob"}
    )
    try:
        async with httpx.AsyncClient(base_url=deployment.base_url) as http:
            made = await http.post("/threads", json={}, headers={"x-api-key": "key-a"})
            assert made.status_code == 200
            tid = made.json()["thread_id"]
            assert (
                await http.get(f"/threads/{tid}", headers={"Authorization": "Bearer key-a"})
            ).status_code == 200
            assert (
                await http.get(f"/threads/{tid}", headers={"x-api-key": "key-b"})
            ).status_code == 404
            wrong = await http.get(f"/threads/{tid}", headers={"x-api-key": "nope"})
            assert wrong.status_code == 401 and wrong.json() == {"detail": "Invalid API key"}
    finally:
        deployment.stop()


async def test_langgraph_custom_auth_with_the_sdk() -> None:
    from langgraph_sdk import get_client
    from langgraph_sdk.errors import AuthenticationError, NotFoundError, PermissionDeniedError

    from tests.e2e.harness import ROOT

    config = str(ROOT / "tests" / "graphs" / "langgraph_auth.json")
    deployment = start_dev(extra_env={"HEADWATER_CONFIG": config})
    try:
        alice = get_client(url=deployment.base_url, headers={"Authorization": "Bearer token-alice"})
        bob = get_client(url=deployment.base_url, headers={"Authorization": "Bearer token-bob"})
        nobody = get_client(url=deployment.base_url)
        thread = await alice.threads.create(metadata={"topic": "x"})
        assert thread["metadata"] == {"topic": "x", "owner": "alice"}, (
            "the create handler stamped it"
        )
        result = await alice.runs.wait(thread["thread_id"], "counter", input={"steps": 1})
        assert result["log"] == ["step 1"]
        run = (await alice.runs.list(thread["thread_id"]))[0]
        assert (
            run["metadata"]["owner"] == "alice"
            and run["kwargs"]["config"]["configurable"] is not None
        )
        with pytest.raises(NotFoundError):
            await bob.threads.get(thread["thread_id"])
        with pytest.raises(NotFoundError):
            await bob.runs.create(thread["thread_id"], "counter", input={"steps": 1})
        assert await bob.threads.search() == []
        own = await bob.threads.create()
        with pytest.raises(PermissionDeniedError) as denied:
            await bob.threads.delete(own["thread_id"])
        assert "threads:delete" in str(denied.value)
        with pytest.raises(AuthenticationError) as missing:
            await nobody.threads.search()
        assert "Missing bearer token" in str(missing.value)
        await alice.threads.delete(thread["thread_id"])
    finally:
        deployment.stop()


async def test_crons_are_private(secured: Deployment) -> None:
    from langgraph_sdk import get_client
    from langgraph_sdk.errors import AuthenticationError, NotFoundError

    a = get_client(url=secured.base_url, headers=A)
    b = get_client(url=secured.base_url, headers=B)
    tag = uuid.uuid4().hex
    thread = await a.threads.create()
    on_thread = await a.crons.create_for_thread(
        thread["thread_id"], "counter", schedule="0 9 * * *", metadata={"tag": tag}
    )
    stateless = await a.crons.create("counter", schedule="0 9 * * *", metadata={"tag": tag})
    assert on_thread["user_id"] == stateless["user_id"] == "user-a"
    try:
        for cron in (on_thread, stateless):
            path = f"/runs/crons/{cron['cron_id']}"
            with pytest.raises(NotFoundError):
                await b.http.get(path)
            with pytest.raises(NotFoundError):
                await b.crons.update(cron["cron_id"], enabled=False)
            with pytest.raises(NotFoundError):
                await b.crons.delete(cron["cron_id"])
            assert (await a.http.get(path))["enabled"] is True, "A's cron is untouched"
        assert await b.crons.search(metadata={"tag": tag}) == []
        assert await b.crons.count(metadata={"tag": tag}) == 0
        assert await a.crons.count(metadata={"tag": tag}) == 2
        with pytest.raises(NotFoundError):
            await b.crons.create_for_thread(thread["thread_id"], "counter", schedule="0 9 * * *")
        theirs = await a.assistants.create(graph_id="counter")
        with pytest.raises(NotFoundError):
            await b.crons.create(theirs["assistant_id"], schedule="0 9 * * *")
        with pytest.raises(AuthenticationError):
            await get_client(url=secured.base_url).crons.search()
    finally:
        await a.crons.delete(on_thread["cron_id"])
        await a.crons.delete(stateless["cron_id"])


async def test_langgraph_assistant_and_cron_handlers_with_the_sdk() -> None:
    import datetime as dt

    from langgraph_sdk import get_client
    from langgraph_sdk.errors import NotFoundError, PermissionDeniedError

    from tests.e2e.harness import ROOT

    config = str(ROOT / "tests" / "graphs" / "langgraph_auth.json")
    deployment = start_dev(extra_env={"HEADWATER_CONFIG": config})
    try:
        alice = get_client(url=deployment.base_url, headers={"Authorization": "Bearer token-alice"})
        bob = get_client(url=deployment.base_url, headers={"Authorization": "Bearer token-bob"})
        # assistants: create stamps, reads and searches filter ($or: own or system)
        mine = await alice.assistants.create(graph_id="counter", metadata={"team": "x"})
        assert mine["metadata"] == {"team": "x", "owner": "alice"}
        other = await alice.assistants.create(graph_id="counter", name="other")
        seen = {a["assistant_id"]: a for a in await alice.assistants.search(limit=100)}
        assert {mine["assistant_id"], other["assistant_id"]} <= set(seen)
        assert any(a["metadata"] == {"created_by": "system"} for a in seen.values())
        assert await alice.assistants.count() == len(seen) == 3
        assert [a["graph_id"] for a in await bob.assistants.search()] == ["counter"], "system"
        with pytest.raises(NotFoundError):
            await bob.assistants.get(mine["assistant_id"])
        assert (await alice.assistants.get_schemas("counter"))["graph_id"] == "counter"

        moved = await alice.assistants.update(other["assistant_id"], metadata={"owner": "eve"})
        assert moved["metadata"]["owner"] == "eve"  # the update filter matched the old owner
        for read in (
            alice.assistants.get,
            alice.assistants.get_schemas,
            alice.assistants.get_graph,
            alice.assistants.get_versions,
            alice.assistants.delete,
        ):
            with pytest.raises(NotFoundError):
                await read(other["assistant_id"])
        assert other["assistant_id"] not in {
            a["assistant_id"] for a in await alice.assistants.search(limit=100)
        }
        assert await alice.assistants.count() == 2
        with pytest.raises(NotFoundError):  # creating a cron reads its assistant
            await alice.crons.create(other["assistant_id"], schedule="0 9 * * *")

        # crons: create needs a permission and stamps; every other action filters
        with pytest.raises(PermissionDeniedError) as denied:
            await bob.crons.create("counter", schedule="0 9 * * *")
        assert "crons:create" in str(denied.value)
        tag = uuid.uuid4().hex
        soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
        firing = await alice.crons.create(
            mine["assistant_id"],
            schedule="* * * * * *",
            input={"steps": 1},
            metadata={"tag": tag},
            on_run_completed="keep",
            end_time=soon,
        )
        assert firing["metadata"] == {"tag": tag, "owner": "alice"}
        assert firing["user_id"] == "alice"
        daily = await alice.crons.create("counter", schedule="0 9 * * *")
        assert await bob.crons.search() == []
        with pytest.raises(NotFoundError):
            await bob.http.get(f"/runs/crons/{daily['cron_id']}")

        deadline = time.monotonic() + 30
        while not (found := await alice.threads.search(metadata={"tag": tag}, status="idle")):
            assert time.monotonic() < deadline, "the cron fired no run alice can see"
            await asyncio.sleep(0.2)
        assert found[0]["metadata"]["owner"] == "alice", "threads.create_run ran for the fire"
        assert found[0]["values"]["log"] == ["step 1"]
        assert await bob.threads.search(metadata={"tag": tag}) == []
        await alice.crons.delete(firing["cron_id"])

        await alice.crons.update(daily["cron_id"], metadata={"owner": "eve"})
        with pytest.raises(NotFoundError):
            await alice.http.get(f"/runs/crons/{daily['cron_id']}")
        assert daily["cron_id"] not in {c["cron_id"] for c in await alice.crons.search()}
        assert await alice.crons.count() == 0
    finally:
        deployment.stop()


async def test_system_assistants_are_read_only_and_a_thread_takes_its_crons(
    secured: Deployment,
) -> None:
    from langgraph_sdk import get_client
    from langgraph_sdk.errors import NotFoundError, PermissionDeniedError

    a = get_client(url=secured.base_url, headers=A)
    [system] = await a.assistants.search(graph_id="counter", metadata={"created_by": "system"})
    with pytest.raises(PermissionDeniedError):
        await a.assistants.update(system["assistant_id"], metadata={"mine": True})
    with pytest.raises(PermissionDeniedError):
        await a.assistants.delete(system["assistant_id"])
    assert (await a.assistants.get(system["assistant_id"]))["metadata"] == {"created_by": "system"}

    thread = await a.threads.create()
    cron = await a.crons.create_for_thread(thread["thread_id"], "counter", schedule="0 9 * * *")
    await a.threads.delete(thread["thread_id"])
    with pytest.raises(NotFoundError):
        await a.http.get(f"/runs/crons/{cron['cron_id']}")


async def test_no_way_around_ownership_through_run_fields(secured: Deployment) -> None:
    async with httpx.AsyncClient(base_url=secured.base_url, timeout=30) as http:
        theirs = (await http.post("/threads", json={}, headers=A)).json()["thread_id"]
        await http.post(
            f"/threads/{theirs}/runs/wait",
            json={"assistant_id": "counter", "input": {"steps": 1, "label": "alice-secret"}},
            headers=A,
        )
        assistant = (
            await http.post(
                "/assistants",
                json={"graph_id": "counter", "config": {"configurable": {"token": "a-only"}}},
                headers=A,
            )
        ).json()["assistant_id"]
        mine = (await http.post("/threads", json={}, headers=B)).json()["thread_id"]

        borrowed = await http.post(
            f"/threads/{mine}/runs", json={"assistant_id": assistant, "input": {}}, headers=B
        )
        assert borrowed.status_code == 404 and "a-only" not in borrowed.text
        pointed = await http.post(
            f"/threads/{mine}/runs/wait",
            json={
                "assistant_id": "counter",
                "input": {"steps": 1, "label": "bob"},
                "checkpoint": {"thread_id": theirs, "checkpoint_ns": ""},
            },
            headers=B,
        )
        assert pointed.status_code == 200 and "alice-secret" not in pointed.text
        assert pointed.json()["log"] == ["bob 1"]
        state = (await http.get(f"/threads/{theirs}/state", headers=A)).json()
        assert state["values"]["log"] == ["alice-secret 1"], "A's thread is untouched"


async def test_a_reused_thread_id_shows_nothing_of_the_deleted_thread(
    secured: Deployment,
) -> None:
    from langgraph_sdk import get_client

    a = get_client(url=secured.base_url, headers=A)
    b = get_client(url=secured.base_url, headers=B)
    tid = str(uuid.uuid4())
    await a.threads.create(thread_id=tid)
    await a.runs.wait(tid, "counter", input={"steps": 1, "label": "alice-secret"})
    watching = await a.threads.join_stream(tid, last_event_id="-")

    async def watch() -> list[Any]:
        return [part async for part in watching]  # ends when the thread is deleted

    seen_by_a = asyncio.create_task(watch())
    await asyncio.sleep(0.5)
    await a.threads.delete(tid)
    async with asyncio.timeout(15):
        before_delete = await seen_by_a
    assert any("alice-secret" in json.dumps(p.data) for p in before_delete)

    await b.threads.create(thread_id=tid)
    await b.runs.wait(tid, "counter", input={"steps": 1, "label": "bob"})
    replay = await b.threads.join_stream(tid, last_event_id="-")
    parts: list[Any] = []
    async with asyncio.timeout(15):
        async for part in replay:
            parts.append(part)
            if part.event == "metadata" and part.data.get("status") == "run_done":
                break
    text = json.dumps([p.data for p in parts])
    assert "bob 1" in text and "alice-secret" not in text
    state = await b.threads.get_state(tid)
    assert state["values"]["log"] == ["bob 1"], "no checkpoint of A's is left under the id"

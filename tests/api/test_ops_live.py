"""``GET /runs/live`` in process: a snapshot then runs as they change (over a real socket:
ASGITransport buffers streams), one query per look for any number of listeners, and what each
listener may see."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from headwater.api.ops.live import Listener, LiveFeed
from headwater.api.ops.workers import worker_views
from headwater.common.db.models import RunRow
from tests.api.conftest import InProcessApi, in_process_api, new_id

pytestmark = [pytest.mark.api, pytest.mark.timeout(90)]


async def _sse(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    event = ""
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            yield event, json.loads(line.split(":", 1)[1])


@contextlib.asynccontextmanager
async def on_a_socket(served: InProcessApi) -> AsyncIterator[str]:
    """Serve the in-process app over a real socket (streams arrive as they are written)."""
    assert served.app is not None
    config = uvicorn.Config(
        served.app, host="127.0.0.1", port=0, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    server.config.loop = "none"
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


async def test_live_pushes_a_snapshot_then_the_runs_as_they_change(tmp_path: Path) -> None:
    async with (
        in_process_api(tmp_path, with_worker=True) as served,
        on_a_socket(served) as base,
        httpx.AsyncClient(base_url=base, timeout=30) as http,
        http.stream("GET", "/runs/live?limit=5") as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _sse(response)
        kind, snapshot = await anext(events)
        assert kind == "snapshot" and snapshot["queue"]["mode"] == "dev"
        assert isinstance(snapshot["runs"], list) and len(snapshot["workers"]) == 1
        tid = (await http.post("/threads", json={})).json()["thread_id"]
        created = await http.post(
            f"/threads/{tid}/runs",
            json={"assistant_id": "counter", "input": {"steps": 3, "delay": 0.6}},
        )
        run_id = created.json()["run_id"]
        statuses: list[str] = []
        kinds: set[str] = set()
        async with asyncio.timeout(30):
            async for kind, data in events:
                kinds.add(kind)
                if kind == "run" and data["run_id"] == run_id:
                    statuses.append(data["status"])
                    if data["status"] == "success":
                        break
        assert "running" in statuses and statuses[-1] == "success"
        assert "queue" in kinds


async def test_live_shows_each_user_only_their_runs(tmp_path: Path) -> None:
    alice, bob = {"x-api-key": "key-a"}, {"x-api-key": "key-b"}
    async with (
        in_process_api(
            tmp_path, with_worker=True, auth="apikey", api_keys="key-a:alice,key-b:bob"
        ) as served,
        on_a_socket(served) as base,
        httpx.AsyncClient(base_url=base, timeout=30) as http,
    ):
        assert (await http.get("/runs/live")).status_code == 401
        async with (
            http.stream("GET", "/runs/live", headers=alice) as alice_live,
            http.stream("GET", "/runs/live", headers=bob) as bob_live,
        ):
            alice_events, bob_events = _sse(alice_live), _sse(bob_live)
            assert (await anext(alice_events))[0] == "snapshot"
            assert (await anext(bob_events))[0] == "snapshot"
            tid = (await http.post("/threads", json={}, headers=alice)).json()["thread_id"]
            created = await http.post(
                f"/threads/{tid}/runs",
                json={"assistant_id": "counter", "input": {"steps": 1}},
                headers=alice,
            )
            run_id = created.json()["run_id"]
            alice_ticks = 0
            async with asyncio.timeout(20):
                async for kind, data in alice_events:
                    alice_ticks += kind == "queue"
                    if kind == "run" and data["run_id"] == run_id and data["status"] == "success":
                        break
            seen_by_bob: list[str] = []
            queue_ticks = 0
            async with asyncio.timeout(20):
                async for kind, data in bob_events:  # every look that reached alice, and one more
                    if kind == "run":
                        seen_by_bob.append(data["run_id"])
                    queue_ticks += kind == "queue"
                    if queue_ticks > alice_ticks:
                        break
            assert seen_by_bob == []


def test_a_live_listener_sees_only_its_owners_runs_its_filter_allows() -> None:

    def run(owner: str, team: str) -> RunRow:
        return RunRow(run_id=new_id(), owner=owner, metadata_={"team": team})

    alice = Listener("alice", None)
    assert alice.sees(run("alice", "a")) and not alice.sees(run("bob", "a"))
    filtered = Listener("alice", {"team": "a"})  # a custom auth handler's filter
    assert filtered.sees(run("alice", "a")) and not filtered.sees(run("alice", "b"))
    slow = Listener("alice", None)
    for _ in range(2000):
        slow.offer(b"event")
    assert slow.dropped and slow.backlog.qsize() == 1000


async def test_the_live_feed_makes_one_query_per_look_however_many_listen(
    api_with_worker: InProcessApi,
) -> None:

    assert api_with_worker.app is not None
    ctx = api_with_worker.app.state.ctx
    feed = LiveFeed(
        ctx.bus,
        ctx.sessions,
        lambda: worker_views(ctx.sessions, ctx.settings.worker_heartbeat_s),
        interval=1.0,
    )
    listeners = [Listener("", None) for _ in range(50)]
    for listener in listeners:
        feed.subscribe(listener)
    await asyncio.sleep(2.5)  # looks at 1 s and 2 s
    try:
        assert feed.queries == 2
        for listener in listeners:  # each got the queue twice and the workers once
            chunks = [listener.backlog.get_nowait() for _ in range(listener.backlog.qsize())]
            kinds = [chunk.split(b"\r\n", 1)[0] for chunk in chunks]
            assert kinds.count(b"event: queue") == 2 and kinds.count(b"event: workers") == 1
    finally:
        for listener in listeners:
            feed.unsubscribe(listener)

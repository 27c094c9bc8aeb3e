"""Crons through the official langgraph-sdk: CRUD shapes, search, errors, and real fires.

The deployments are shared by the whole suite: every test makes its own assistant, threads and
metadata tag, bounds its crons with an ``end_time`` and deletes them, so nothing keeps firing.
Fires use a second-level schedule (``* * * * * *``) and the scheduler's default 1 s poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import BadRequestError, NotFoundError, UnprocessableEntityError

from tests.e2e.harness import Deployment

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]
T = TypeVar("T")
CRON_KEYS = {
    "cron_id",
    "assistant_id",
    "thread_id",
    "user_id",
    "end_time",
    "schedule",
    "timezone",
    "payload",
    "next_run_date",
    "metadata",
    "on_run_completed",
    "enabled",
    "created_at",
    "updated_at",
}


@pytest.fixture
async def client(deployment: Deployment) -> AsyncIterator[LangGraphClient]:
    """A client whose crons are deleted after the test, whatever happens."""
    sdk = get_client(url=deployment.base_url)
    made: list[str] = []
    original = sdk.crons.create, sdk.crons.create_for_thread

    async def create(*args: Any, **kwargs: Any) -> Any:
        cron = await original[0](*args, **kwargs)
        made.append(cron["cron_id"])
        return cron

    async def create_for_thread(*args: Any, **kwargs: Any) -> Any:
        cron = await original[1](*args, **kwargs)
        made.append(cron["cron_id"])
        return cron

    sdk.crons.create, sdk.crons.create_for_thread = create, create_for_thread  # type: ignore[method-assign]
    yield sdk
    for cron_id in made:
        with contextlib.suppress(NotFoundError):
            await sdk.crons.delete(cron_id)


async def until(probe: Callable[[], Awaitable[T | None]], timeout: float = 30.0) -> T:
    """Poll ``probe`` until it returns something truthy (bounded)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true after {timeout} s: {probe}")
        await asyncio.sleep(0.2)


def soon(seconds: float = 90) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)


def parse(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp)


async def own_assistant(client: LangGraphClient, tag: str) -> str:
    assistant = await client.assistants.create(graph_id="counter", metadata={"tag": tag})
    return str(assistant["assistant_id"])


async def test_create_get_update_delete(client: LangGraphClient, deployment: Deployment) -> None:
    tag = uuid.uuid4().hex
    assistant_id = await own_assistant(client, tag)
    end = soon(30 * 86400)
    cron = await client.crons.create(
        assistant_id,
        schedule="0 9 * * *",
        input={"steps": 1},
        metadata={"tag": tag},
        timezone="America/New_York",
        end_time=end,
    )
    assert set(cron) == CRON_KEYS
    assert cron["assistant_id"] == assistant_id and cron["thread_id"] is None
    assert cron["on_run_completed"] == "delete" and cron["enabled"] is True
    assert cron["timezone"] == "America/New_York" and cron["schedule"] == "0 9 * * *"
    assert cron["metadata"] == {"tag": tag} and cron["user_id"] == ""
    assert parse(cron["end_time"]) == end
    following = parse(cron["next_run_date"])
    assert following > dt.datetime.now(dt.UTC) and following.minute == 0
    assert following.hour in (13, 14), "09:00 in New York (EDT or EST) in UTC"
    payload = cron["payload"]
    assert payload["input"] == {"steps": 1} and payload["assistant_id"] == assistant_id
    assert payload["config"]["configurable"]["cron_id"] == cron["cron_id"]
    assert payload["metadata"] == {"tag": tag} and payload["schedule"] == "0 9 * * *"

    got = await client.http.get(f"/runs/crons/{cron['cron_id']}")
    assert got == cron

    thread = await client.threads.create()
    on_thread = await client.crons.create_for_thread(
        thread["thread_id"],
        "counter",
        schedule="*/5 * * * *",
        input={"steps": 1},
        multitask_strategy="reject",
        enabled=False,
    )
    assert on_thread["thread_id"] == thread["thread_id"] and on_thread["enabled"] is False
    assert on_thread["on_run_completed"] is None and on_thread["end_time"] is None
    assert on_thread["payload"]["multitask_strategy"] == "reject"

    changed = await client.crons.update(
        cron["cron_id"],
        schedule="30 8 * * 1",
        timezone="Europe/Paris",
        end_time=None,
        metadata={"more": 1},
        input={"steps": 2},
        on_run_completed="keep",
        enabled=False,
    )
    assert changed["schedule"] == "30 8 * * 1" and changed["timezone"] == "Europe/Paris"
    assert changed["end_time"] is None and changed["enabled"] is False
    assert changed["on_run_completed"] == "keep"
    assert changed["metadata"] == {"tag": tag, "more": 1}, "metadata is merged"
    assert changed["payload"]["input"] == {"steps": 2}
    assert changed["payload"]["schedule"] == "30 8 * * 1"
    assert changed["payload"]["config"]["configurable"]["cron_id"] == cron["cron_id"]
    monday = parse(changed["next_run_date"])
    assert monday.weekday() == 0 and (monday.hour, monday.minute) in ((6, 30), (7, 30))
    assert parse(changed["updated_at"]) > parse(cron["updated_at"])
    assert changed["created_at"] == cron["created_at"]

    await client.crons.delete(cron["cron_id"])
    with pytest.raises(NotFoundError):
        await client.http.get(f"/runs/crons/{cron['cron_id']}")
    with pytest.raises(NotFoundError):
        await client.crons.delete(cron["cron_id"])
    with pytest.raises(NotFoundError):
        await client.crons.update(cron["cron_id"], enabled=True)
    async with httpx.AsyncClient(base_url=deployment.base_url) as http:
        assert (await http.get("/runs/crons/not-a-uuid")).status_code == 422


async def test_search_count_and_pages(client: LangGraphClient, deployment: Deployment) -> None:
    tag = uuid.uuid4().hex
    assistant_id = await own_assistant(client, tag)
    thread = await client.threads.create()
    end = soon(3600)
    first = await client.crons.create(
        assistant_id, schedule="0 1 * * *", metadata={"tag": tag}, end_time=end
    )
    second = await client.crons.create(
        assistant_id, schedule="0 2 * * *", metadata={"tag": tag, "kind": "off"}, enabled=False
    )
    third = await client.crons.create_for_thread(
        thread["thread_id"], assistant_id, schedule="0 3 * * *", metadata={"tag": tag}
    )
    ids = [first["cron_id"], second["cron_id"], third["cron_id"]]

    found = await client.crons.search(metadata={"tag": tag})
    assert [c["cron_id"] for c in found] == ids[::-1], "newest first"
    assert [c["cron_id"] for c in await client.crons.search(assistant_id=assistant_id)] == ids[::-1]
    only = await client.crons.search(thread_id=thread["thread_id"])
    assert [c["cron_id"] for c in only] == [third["cron_id"]]
    off = await client.crons.search(metadata={"tag": tag}, enabled=False)
    assert [c["cron_id"] for c in off] == [second["cron_id"]]
    kind = await client.crons.search(metadata={"tag": tag, "kind": "off"})
    assert [c["cron_id"] for c in kind] == [second["cron_id"]]
    ascending = await client.crons.search(
        metadata={"tag": tag}, sort_by="created_at", sort_order="asc"
    )
    assert [c["cron_id"] for c in ascending] == ids
    picked = await client.crons.search(metadata={"tag": tag}, select=["cron_id", "schedule"])
    assert picked[0] == {"cron_id": third["cron_id"], "schedule": "0 3 * * *"}

    assert await client.crons.count(metadata={"tag": tag}) == 3
    assert await client.crons.count(assistant_id=assistant_id) == 3
    assert await client.crons.count(thread_id=thread["thread_id"]) == 1

    async with httpx.AsyncClient(base_url=deployment.base_url) as http:
        one = await http.post("/runs/crons/search", json={"metadata": {"tag": tag}, "limit": 2})
        assert one.status_code == 200 and len(one.json()) == 2
        assert one.headers["x-pagination-total"] == "3"
        assert one.headers["x-pagination-next"] == "2"
        two = await http.post(
            "/runs/crons/search", json={"metadata": {"tag": tag}, "limit": 2, "offset": 2}
        )
        assert [c["cron_id"] for c in two.json()] == [first["cron_id"]]
        assert two.headers["x-pagination-total"] == "3" and "x-pagination-next" not in two.headers
        counted = await http.post("/runs/crons/count", json={"metadata": {"tag": tag}})
        assert counted.json() == 3
        bad = await http.post("/runs/crons/search", json={"sort_by": "nope"})
        assert bad.status_code == 422


async def test_bad_requests_are_4xx_with_a_reason(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    cases: list[tuple[type[Exception], dict[str, Any], str]] = [
        (UnprocessableEntityError, {"schedule": "every day"}, "Invalid cron schedule"),
        (UnprocessableEntityError, {"schedule": "61 * * * *"}, "out of range"),
        (UnprocessableEntityError, {"schedule": "0 0 30 2 *"}, "Invalid cron schedule"),
        (UnprocessableEntityError, {"timezone": "Mars/Olympus_Mons"}, "Invalid timezone"),
        (UnprocessableEntityError, {"timezone": "Europe/" + "x" * 300}, "Invalid timezone"),
        (UnprocessableEntityError, {"webhook": "http://[::1"}, "Invalid webhook"),
        (UnprocessableEntityError, {"webhook": "ftp://hooks.example.com/x"}, "Invalid webhook"),
        (UnprocessableEntityError, {"stream_mode": ["nope"]}, "stream_mode"),
        (
            BadRequestError,
            {"config": {"configurable": {"a": 1}}, "context": {"a": 1}},
            "both configurable and context",
        ),
    ]
    for error, extra, reason in cases:
        body: dict[str, Any] = {"schedule": "0 9 * * *", **extra}
        with pytest.raises(error) as raised:
            await client.crons.create("counter", **body)
        assert reason in raised.value.response.json()["detail"], (extra, raised.value)
    with pytest.raises(UnprocessableEntityError):
        await client.crons.create("no-such-graph", schedule="0 9 * * *")
    with pytest.raises(NotFoundError):
        await client.crons.create(str(uuid.uuid4()), schedule="0 9 * * *")
    with pytest.raises(NotFoundError):
        await client.crons.create_for_thread(str(uuid.uuid4()), "counter", schedule="0 9 * * *")
    with pytest.raises(UnprocessableEntityError):
        await client.crons.create_for_thread("not-a-uuid", "counter", schedule="0 9 * * *")

    cron = await client.crons.create_for_thread(
        thread["thread_id"], "counter", schedule="0 9 * * *", end_time=soon()
    )
    with pytest.raises(BadRequestError):
        await client.crons.update(cron["cron_id"])  # nothing to change
    with pytest.raises(UnprocessableEntityError):
        await client.crons.update(cron["cron_id"], schedule="nope")
    with pytest.raises(UnprocessableEntityError):
        await client.crons.update(cron["cron_id"], timezone="Nowhere/Else")
    with pytest.raises(UnprocessableEntityError):
        await client.crons.update(cron["cron_id"], webhook="not a url")
    unchanged = await client.http.get(f"/runs/crons/{cron['cron_id']}")
    assert unchanged["schedule"] == "0 9 * * *" and unchanged["timezone"] is None


async def test_a_thread_cron_fires_runs_on_its_thread(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    cron = await client.crons.create_for_thread(
        tid, "counter", schedule="* * * * * *", input={"steps": 1}, end_time=soon()
    )

    async def two_done() -> list[Any] | None:
        runs = await client.runs.list(tid)
        done = [r for r in runs if r["status"] == "success"]
        return runs if len(done) >= 2 else None

    await until(two_done)
    await client.crons.delete(cron["cron_id"])
    runs = await client.runs.list(tid, limit=100)
    for run in runs:  # let what was queued before the delete finish
        await client.runs.join(tid, run["run_id"])
    assert {r["kwargs"]["config"]["configurable"]["cron_id"] for r in runs} == {cron["cron_id"]}
    assert all(r["thread_id"] == tid and r["multitask_strategy"] == "enqueue" for r in runs)
    state = await client.threads.get_state(tid)
    expected = [f"step {n}" for n in range(1, len(runs) + 1)]
    assert state["values"]["log"] == expected, "every fire continued the thread"


async def test_stateless_crons_fire_on_new_threads(client: LangGraphClient) -> None:
    kept_tag, temp_tag = uuid.uuid4().hex, uuid.uuid4().hex
    kept = await client.crons.create(
        "counter",
        schedule="* * * * * *",
        input={"steps": 1},
        metadata={"tag": kept_tag},
        on_run_completed="keep",
        end_time=soon(),
    )
    temporary = await client.crons.create(
        "counter",
        schedule="* * * * * *",
        input={"steps": 2, "delay": 0.5},
        metadata={"tag": temp_tag},
        end_time=soon(),
    )

    async def two_finished() -> list[Any] | None:
        found = await client.threads.search(metadata={"tag": kept_tag}, status="idle")
        return found if len(found) >= 2 else None

    threads = await until(two_finished)
    seen_temporary = await until(lambda: client.threads.search(metadata={"tag": temp_tag}))
    await client.crons.delete(kept["cron_id"])
    await client.crons.delete(temporary["cron_id"])
    assert len({t["thread_id"] for t in threads}) == len(threads), "a new thread per fire"
    for thread in threads[:2]:
        assert thread["values"]["log"] == ["step 1"]
        (run,) = await client.runs.list(thread["thread_id"])
        assert run["status"] == "success"
        assert run["kwargs"]["config"]["configurable"]["cron_id"] == kept["cron_id"]
        assert run["metadata"]["tag"] == kept_tag
    assert seen_temporary[0]["metadata"]["tag"] == temp_tag

    async def all_gone() -> bool:
        return not await client.threads.search(metadata={"tag": temp_tag})

    await until(all_gone)  # on_run_completed=delete: each thread goes once its run ends

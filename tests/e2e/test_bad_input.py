"""No input is a 500: every POST/PUT/PATCH endpoint of the LangGraph API, the store and the
memories gets a table of malformed bodies and answers a 4xx with a JSON ``detail``; concurrent
creates of one id are settled (one creates, the others get 409 or the same thread)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.harness import Deployment

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

DEEP_LIST = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000
MALFORMED: dict[str, bytes] = {
    "truncated": b'{"metadata": {',
    "not json": b"not json at all",
    "empty": b"",
    "null": b"null",
    "array": b"[]",
    "number": b"123",
    "string": b'"thread"',
    "deep list": DEEP_LIST.encode(),
    "deep object": DEEP_OBJECT.encode(),
    "deep in a field": (
        '{"metadata": {"x": ' + DEEP_LIST + '}, "input": ' + DEEP_LIST + "}"
    ).encode(),
    "deep 100k": ("[" * 100_000 + "]" * 100_000).encode(),
    "invalid utf-8 value": b'{"metadata": {"k": "\xff\xfe"}, "assistant_id": "\xc3\x28"}',
    "invalid utf-8 key": b'{"\xc3\x28": 1}',
    "lone surrogate": b'{"metadata": {"k": "\\ud800"}, "value": {"k": "\\udfff"}}',
    "nul escape": b'{"metadata": {"k": "\\u0000"}, "namespace": ["a\\u0000"]}',
}
WRONG_TYPES: dict[str, dict[str, Any]] = {
    "configurable str": {"assistant_id": "agent", "config": {"configurable": "x"}},
    "configurable list": {"assistant_id": "agent", "config": {"configurable": [1]}},
    "config list": {"assistant_id": "agent", "config": []},
    "config str": {"assistant_id": "agent", "config": "x"},
    "tags str": {"assistant_id": "agent", "config": {"tags": "x"}},
    "tags of numbers": {"assistant_id": "agent", "config": {"tags": [1, 2]}},
    "recursion_limit str": {"assistant_id": "agent", "config": {"recursion_limit": "many"}},
    "metadata str": {"metadata": "x", "assistant_id": "agent"},
    "metadata list": {"metadata": [1], "assistant_id": "agent"},
    "context str": {"assistant_id": "agent", "context": "x"},
    "assistant_id number": {"assistant_id": 5, "graph_id": 5},
    "thread_id number": {"thread_id": 5, "thread_ids": 5},
    "limit str": {"limit": "ten", "offset": "x"},
    "limit negative": {"limit": -1, "offset": -1},
    "limit huge": {"limit": 10**30},
    "ttl str": {"ttl": "x"},
    "checkpoint str": {"assistant_id": "agent", "checkpoint": "x"},
    "command str": {"assistant_id": "agent", "command": "x"},
    "stream_mode number": {"assistant_id": "agent", "stream_mode": 5},
    "namespace str": {"namespace": "x", "key": 5, "value": "x"},
    "namespace_prefix number": {"namespace_prefix": 5, "filter": "x"},
    "schedule number": {"assistant_id": "agent", "schedule": 5},
    "version str": {"version": "one"},
    "strategy unknown": {"strategy": "shred", "thread_ids": "x"},
    "status unknown": {"status": "exploded", "run_ids": 5},
    "values str": {"values": "x", "as_node": 5},
    "user_id number": {"user_id": 5, "conversation": "x"},
}


def endpoints(spec: dict[str, Any], ids: dict[str, str]) -> list[tuple[str, str]]:
    """Every body-taking endpoint of the LangGraph API, the store and the memories in the
    OpenAPI document, with its path parameters filled in by real ids."""
    found = []
    for template, operations in spec["paths"].items():
        if template.startswith("/v1/"):
            continue  # the OpenAI and simple-run fronts have tests of their own
        for method in operations:
            if method in ("post", "put", "patch"):
                found.append((method.upper(), template.format(**ids)))
    return found


async def _ids(http: httpx.AsyncClient) -> dict[str, str]:
    thread = (await http.post("/threads", json={})).json()
    assistant = (await http.post("/assistants", json={"graph_id": "agent"})).json()
    cron = await http.post(
        "/runs/crons", json={"assistant_id": "agent", "schedule": "0 0 1 1 *", "enabled": False}
    )
    assert cron.status_code == 200, cron.text
    return {
        "thread_id": thread["thread_id"],
        "assistant_id": assistant["assistant_id"],
        "cron_id": cron.json()["cron_id"],
        "run_id": str(uuid.uuid4()),
    }


def _bad(response: httpx.Response) -> str | None:
    """What is wrong with an answer to bad input, or None."""
    if response.status_code >= 500:
        return f"{response.status_code} {response.text[:200]}"
    if response.status_code >= 400:
        try:
            body = response.json()
        except json.JSONDecodeError:
            return f"{response.status_code} without JSON: {response.text[:200]}"
        if not isinstance(body, dict) or not isinstance(body.get("detail"), str | list):
            return f"{response.status_code} without a detail: {response.text[:200]}"
    return None


async def test_no_malformed_body_is_a_500(deployment: Deployment) -> None:
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=60) as http:
        spec = (await http.get("/docs/openapi.json")).json()
        ids = await _ids(http)
        routes = endpoints(spec, ids)
        assert len(routes) >= 25, routes  # the whole API is there, not an empty table
        bodies = {**MALFORMED, **{k: json.dumps(v).encode() for k, v in WRONG_TYPES.items()}}
        failures: list[str] = []
        statuses: dict[int, int] = {}
        for method, path in routes:
            for name, body in bodies.items():
                response = await http.request(
                    method, path, content=body, headers={"content-type": "application/json"}
                )
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if (problem := _bad(response)) is not None:
                    failures.append(f"{method} {path} [{name}]: {problem}")
        assert not failures, "\n".join(failures)
        assert sum(n for s, n in statuses.items() if 400 <= s < 500) > len(routes) * 10, statuses


@pytest.mark.parametrize(
    "path",
    [
        "/threads/{thread_id}/history?limit=abc",
        "/threads/{thread_id}/history?limit=-5",
        "/threads/{thread_id}/runs?limit=%ff",
        "/threads/{thread_id}/runs?limit=99999999999999999999999",
        "/threads/not-a-uuid",
        "/threads/%ff%fe",
        "/threads/{thread_id}/state/%ff",
        "/store/items?namespace=%ff&key=k",
        "/store/items?namespace=&key=",
        "/memories/relevant?user_id=u&prompt=%ff&limit=x",
    ],
)
async def test_bad_paths_and_queries_are_4xx(deployment: Deployment, path: str) -> None:
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=30) as http:
        thread = (await http.post("/threads", json={})).json()["thread_id"]
        response = await http.get(path.format(thread_id=thread))
        assert response.status_code < 500, response.text
        assert _bad(response) is None, response.text


async def test_concurrent_creates_of_one_thread_id(deployment: Deployment) -> None:
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=60) as http:
        for if_exists in ("raise", "do_nothing"):
            thread_id = str(uuid.uuid4())
            answers = await asyncio.gather(
                *(
                    http.post(
                        "/threads",
                        json={"thread_id": thread_id, "if_exists": if_exists, "metadata": {"i": i}},
                    )
                    for i in range(20)
                )
            )
            statuses = sorted(a.status_code for a in answers)
            if if_exists == "raise":
                assert statuses == [200] + [409] * 19, [a.text for a in answers]
                assert all(
                    "already exists" in a.json()["detail"]
                    for a in answers[1:]
                    if a.status_code == 409
                )
            else:
                assert statuses == [200] * 20, [a.text for a in answers]
                # every caller got the one thread that was created, with its first metadata
                assert len({json.dumps(a.json(), sort_keys=True) for a in answers}) == 1
            stored = await http.get(f"/threads/{thread_id}")
            assert stored.status_code == 200 and stored.json()["thread_id"] == thread_id


async def test_concurrent_runs_creating_one_thread(deployment: Deployment) -> None:
    """``if_not_exists="create"`` from many runs at once: one thread, every run on it."""
    thread_id = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=60) as http:
        answers = await asyncio.gather(
            *(
                http.post(
                    f"/threads/{thread_id}/runs",
                    json={
                        "assistant_id": "agent",
                        "input": {"messages": [{"role": "user", "content": "hi"}]},
                        "if_not_exists": "create",
                    },
                )
                for _ in range(10)
            )
        )
        assert [a.status_code for a in answers] == [200] * 10, [a.text for a in answers]
        assert {a.json()["thread_id"] for a in answers} == {thread_id}
        for answer in answers:
            joined = await http.get(f"/threads/{thread_id}/runs/{answer.json()['run_id']}/join")
            assert joined.status_code == 200, joined.text
        runs = (await http.get(f"/threads/{thread_id}/runs", params={"limit": 50})).json()
        assert len(runs) == 10 and {r["status"] for r in runs} == {"success"}


async def test_concurrent_creates_of_one_assistant_id(deployment: Deployment) -> None:
    assistant_id = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=60) as http:
        answers = await asyncio.gather(
            *(
                http.post("/assistants", json={"graph_id": "agent", "assistant_id": assistant_id})
                for _ in range(20)
            )
        )
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200] + [409] * 19, [a.text for a in answers]
        answers = await asyncio.gather(
            *(
                http.post(
                    "/assistants",
                    json={
                        "graph_id": "agent",
                        "assistant_id": assistant_id,
                        "if_exists": "do_nothing",
                    },
                )
                for _ in range(5)
            )
        )
        assert {a.status_code for a in answers} == {200}
        assert {a.json()["assistant_id"] for a in answers} == {assistant_id}

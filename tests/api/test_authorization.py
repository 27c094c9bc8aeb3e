"""Authentication and ownership in process: API keys, JWTs and LangGraph custom auth."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest

from tests.api.conftest import AUTH_CONFIG, InProcessApi, served_in_a_task

pytestmark = [pytest.mark.api, pytest.mark.timeout(60)]

ALICE = {"x-api-key": "key-alice"}
BOB = {"Authorization": "Bearer key-bob"}
SECRET = "in-process-secret-of-at-least-32-bytes"


@pytest.fixture(scope="module")
async def keyed(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[InProcessApi]:
    async with served_in_a_task(
        tmp_path_factory.mktemp("keys"), auth="apikey", api_keys="key-alice:alice,key-bob:bob"
    ) as served:
        yield served


@pytest.fixture(scope="module")
async def jwt_api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[InProcessApi]:
    async with served_in_a_task(
        tmp_path_factory.mktemp("jwt"), auth="jwt", jwt_secret=SECRET
    ) as served:
        yield served


@pytest.fixture(scope="module")
async def custom(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[InProcessApi]:
    async with served_in_a_task(
        tmp_path_factory.mktemp("custom"), config=str(AUTH_CONFIG)
    ) as served:
        yield served


def token(sub: str, **claims: Any) -> dict[str, str]:
    body = {"sub": sub, "exp": int(time.time()) + 600, **claims}
    return {"Authorization": f"Bearer {jwt.encode(body, SECRET, algorithm='HS256')}"}


async def test_missing_and_wrong_keys_are_401_with_a_challenge(keyed: InProcessApi) -> None:
    for headers in ({}, {"x-api-key": "wrong"}):
        response = await keyed.http.post("/threads", json={}, headers=headers)
        assert response.status_code == 401
        assert response.headers.get("www-authenticate")
        assert response.json()["detail"]


async def test_public_paths_need_no_key(keyed: InProcessApi) -> None:
    for path in ("/ok", "/healthz", "/info"):
        assert (await keyed.http.get(path)).status_code == 200, path


async def test_another_users_thread_is_404_everywhere(keyed: InProcessApi) -> None:
    http = keyed.http
    tid = (await http.post("/threads", json={"metadata": {"m": 1}}, headers=ALICE)).json()[
        "thread_id"
    ]
    assert (await http.get(f"/threads/{tid}", headers=ALICE)).status_code == 200
    for method, path, body in [
        ("GET", f"/threads/{tid}", None),
        ("PATCH", f"/threads/{tid}", {"metadata": {"x": 1}}),
        ("DELETE", f"/threads/{tid}", None),
        ("GET", f"/threads/{tid}/runs", None),
        ("POST", f"/threads/{tid}/runs", {"assistant_id": "counter"}),
    ]:
        response = await http.request(method, path, json=body, headers=BOB)
        assert response.status_code == 404, (method, path, response.text)
    found = (await http.post("/threads/search", json={"metadata": {"m": 1}}, headers=BOB)).json()
    assert found == []
    mine = (await http.post("/threads/search", json={"metadata": {"m": 1}}, headers=ALICE)).json()
    assert [t["thread_id"] for t in mine] == [tid]


async def test_system_assistants_are_readable_but_not_writable(keyed: InProcessApi) -> None:
    http = keyed.http
    found = (
        await http.post("/assistants/search", json={"graph_id": "counter"}, headers=BOB)
    ).json()
    system = next(a for a in found if a["metadata"].get("created_by") == "system")
    aid = system["assistant_id"]
    assert (await http.get(f"/assistants/{aid}", headers=BOB)).status_code == 200
    patched = await http.patch(f"/assistants/{aid}", json={"name": "mine"}, headers=BOB)
    assert patched.status_code == 403
    assert (await http.delete(f"/assistants/{aid}", headers=BOB)).status_code == 403


async def test_jwt_subjects_are_users_and_expiry_is_refused(jwt_api: InProcessApi) -> None:
    http = jwt_api.http
    created = await http.post("/threads", json={}, headers=token("user-a"))
    assert created.status_code == 200
    tid = created.json()["thread_id"]
    assert (await http.get(f"/threads/{tid}", headers=token("user-b"))).status_code == 404
    expired = await http.get(
        f"/threads/{tid}", headers=token("user-a", exp=int(time.time()) - 3600)
    )
    assert expired.status_code == 401 and "expired" in expired.json()["detail"].lower()
    forged = {"Authorization": "Bearer " + jwt.encode({"sub": "user-a"}, "x" * 32, "HS256")}
    assert (await http.get(f"/threads/{tid}", headers=forged)).status_code == 401


async def test_custom_auth_authenticates_stamps_and_filters(custom: InProcessApi) -> None:
    http = custom.http
    alice = {"Authorization": "Bearer token-alice"}
    bob = {"Authorization": "Bearer token-bob"}
    unknown = await http.post("/threads", json={}, headers={"Authorization": "Bearer who"})
    assert unknown.status_code == 401 and unknown.json()["detail"] == "Unknown token"
    thread = (await http.post("/threads", json={}, headers=alice)).json()
    assert thread["metadata"]["owner"] == "alice"
    tid = thread["thread_id"]
    assert (await http.get(f"/threads/{tid}", headers=bob)).status_code == 404
    assert (await http.post("/threads/search", json={}, headers=bob)).json() == []


async def test_custom_auth_handlers_refuse_with_403(custom: InProcessApi) -> None:
    http = custom.http
    bob = {"Authorization": "Bearer token-bob"}
    tid = (await http.post("/threads", json={}, headers=bob)).json()["thread_id"]
    refused = await http.delete(f"/threads/{tid}", headers=bob)
    assert refused.status_code == 403
    assert (await http.get(f"/threads/{tid}", headers=bob)).status_code == 200

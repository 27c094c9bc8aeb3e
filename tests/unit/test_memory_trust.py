"""The memory service answers only callers with the service token (the API and workers)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from headwater.common.memory_contract import SERVICE_TOKEN_HEADER
from headwater.common.settings import load_settings
from headwater.memory.app import create_app
from headwater.worker.memory_store import STORE_OWNER, MemoryServiceStore

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]
TOKEN = "service-secret-for-tests"


async def test_requests_without_the_token_are_refused(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "HEADWATER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/hw.sqlite",
            "HEADWATER_SERVICE_TOKEN": TOKEN,
        }
    )
    app = create_app(settings, setup=True)
    alice = {"x-headwater-owner": "alice"}
    item = {"namespace": ["prefs"], "key": "k", "value": {"v": 1}}
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://memory") as http,
    ):
        for path in ("/healthz", "/ok", "/readyz", "/metrics"):
            assert (await http.get(path)).status_code == 200, path  # probes need no token
        for headers in (
            alice,
            {**alice, SERVICE_TOKEN_HEADER: "wrong"},
            {SERVICE_TOKEN_HEADER: ""},
        ):
            put = await http.put("/store/items", json=item, headers=headers)
            assert put.status_code == 401 and SERVICE_TOKEN_HEADER in put.json()["detail"]
            got = await http.get(
                "/store/items", params={"namespace": "prefs", "key": "k"}, headers=headers
            )
            assert got.status_code == 401
            batch = await http.post("/store/batch", json={"ops": []}, headers=headers)
            assert batch.status_code == 401
            relevant = await http.get(
                "/memories/relevant", params={"user_id": "u", "prompt": "p"}, headers=headers
            )
            assert relevant.status_code == 401
        trusted = {**alice, SERVICE_TOKEN_HEADER: TOKEN}
        assert (await http.put("/store/items", json=item, headers=trusted)).status_code == 204
        got = await http.get(
            "/store/items", params={"namespace": "prefs", "key": "k"}, headers=trusted
        )
        assert got.status_code == 200 and got.json()["value"] == {"v": 1}

        # The worker's store client sends the token it is given.
        STORE_OWNER.set("alice")
        store = MemoryServiceStore("http://memory", client=http, service_token=TOKEN)
        found = await store.aget(("prefs",), "k")
        assert found is not None and found.value == {"v": 1}
        untrusted = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://memory"
        )
        with pytest.raises(ValueError, match="401"):
            await MemoryServiceStore("http://memory", client=untrusted).aget(("prefs",), "k")
        await untrusted.aclose()

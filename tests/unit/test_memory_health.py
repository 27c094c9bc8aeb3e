"""The memory service: health vocabulary and per-owner scoping of store items."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from headwater.common.settings import load_settings
from headwater.memory.app import create_app

pytestmark = pytest.mark.unit


async def test_memory_health_and_owner_scoping(tmp_path: Path) -> None:
    settings = load_settings(
        {"HEADWATER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/hw.sqlite"}
    )
    app = create_app(settings, setup=True)
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://memory") as http,
    ):
        assert (await http.get("/healthz")).json() == {"ok": True}
        assert (await http.get("/readyz")).json()["status"] == "ok"
        assert (await http.get("/nope")).status_code == 404
        put = await http.put(
            "/store/items",
            json={"namespace": ["prefs"], "key": "k", "value": {"v": 1}},
            headers={"x-headwater-owner": "alice"},
        )
        assert put.status_code == 204
        params = {"namespace": "prefs", "key": "k"}
        assert (
            await http.get("/store/items", params=params, headers={"x-headwater-owner": "alice"})
        ).json()["value"] == {"v": 1}
        assert (
            await http.get("/store/items", params=params, headers={"x-headwater-owner": "bob"})
        ).json() is None
        found = await http.post(
            "/store/items/search",
            json={"namespace_prefix": []},
            headers={"x-headwater-owner": "bob"},
        )
        assert found.json() == {"items": []}
        spaces = await http.post(
            "/store/namespaces", json={}, headers={"x-headwater-owner": "alice"}
        )
        assert spaces.json() == {"namespaces": [["prefs"]]}

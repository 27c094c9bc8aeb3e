"""The memory service answers the health vocabulary (its Store API arrives with its issue)."""

from __future__ import annotations

import httpx
import pytest

from headwater.common.settings import load_settings
from headwater.memory.app import create_app

pytestmark = pytest.mark.unit


async def test_memory_health_endpoints() -> None:
    app = create_app(load_settings({}))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://memory"
    ) as http:
        assert (await http.get("/healthz")).json() == {"ok": True}
        assert (await http.get("/readyz")).json()["status"] == "ok"
        assert (await http.get("/nope")).status_code == 404

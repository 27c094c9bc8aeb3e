"""The worker's webhook call: refused before any connection, or pinned to the checked address."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from headwater.common.webhooks import WebhookPolicy
from headwater.worker.webhooks import WebhookSender, pinned

pytestmark = pytest.mark.unit


@pytest.fixture
def server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{http.server_address[1]}", seen
    http.shutdown()
    http.server_close()


async def test_a_private_webhook_is_never_called(
    server: tuple[str, list[dict[str, str]]],
) -> None:
    url, seen = server
    async with httpx.AsyncClient() as http:
        sender = WebhookSender(WebhookPolicy(), http, sessions=None)  # type: ignore[arg-type]
        sent = await sender.send(url + "/hook", "run-1", started_at=None, values={}, error=None)  # type: ignore[arg-type]
    assert sent is False and seen == []


def test_pinning_keeps_the_name_in_the_host_header() -> None:
    assert pinned("https://hooks.example.com/a?b=1", "93.184.216.34") == (
        "https://93.184.216.34/a?b=1",
        "hooks.example.com",
    )
    assert pinned("http://user@hooks.example.com:8080/x", "2001:db8::1") == (
        "http://[2001:db8::1]:8080/x",
        "hooks.example.com:8080",
    )


async def test_a_pinned_request_reaches_the_address_with_the_name(
    server: tuple[str, list[dict[str, str]]],
) -> None:
    url, seen = server
    port = url.rsplit(":", 1)[1]
    target, host = pinned(f"http://hooks.example.test:{port}/hook", "127.0.0.1")
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            target, headers={"host": host}, extensions={"sni_hostname": "hooks.example.test"}
        )
    assert answer.status_code == 204 and seen[0]["host"] == f"hooks.example.test:{port}"

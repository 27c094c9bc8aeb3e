"""A run's ``webhook`` is called once it ends (langgraph-sdk; dev and cluster)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.e2e.harness import Deployment

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


class Receiver:
    """An HTTP server on 127.0.0.1 that records what is POSTed to it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                receiver.calls.append((self.path, dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    async def call_to(self, path: str, timeout: float = 15.0) -> tuple[dict[str, str], Any]:
        async with asyncio.timeout(timeout):
            while True:
                for got_path, headers, body in self.calls:
                    if got_path == path:
                        return headers, body
                await asyncio.sleep(0.05)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def client(deployment: Deployment) -> LangGraphClient:
    return get_client(url=deployment.base_url)


async def test_a_finished_run_calls_its_webhook(
    client: LangGraphClient, receiver: Receiver, deployment: Deployment
) -> None:
    tid = (await client.threads.create())["thread_id"]
    path = f"/done/{deployment.kind}/{tid}"
    result = await client.runs.wait(tid, "counter", input={"steps": 2}, webhook=receiver.url + path)
    headers, body = await receiver.call_to(path)
    assert headers.get("x-webhook-token") == "test-token"
    assert body["thread_id"] == tid and body["status"] == "success"
    assert body["values"] == result and body["kwargs"]["webhook"] == receiver.url + path
    assert body["run_started_at"] <= body["run_ended_at"] <= body["webhook_sent_at"]
    assert "error" not in body


async def test_a_stateless_and_a_failed_run_call_theirs(
    client: LangGraphClient, receiver: Receiver, deployment: Deployment
) -> None:
    stateless = f"/stateless/{deployment.kind}"
    run = await client.runs.create(
        None, "counter", input={"steps": 1}, webhook=receiver.url + stateless
    )
    _, body = await receiver.call_to(stateless)
    assert body["run_id"] == run["run_id"] and body["values"]["log"] == ["step 1"]

    tid = (await client.threads.create())["thread_id"]
    failed = f"/failed/{deployment.kind}/{tid}"
    await client.runs.wait(
        tid,
        "counter",
        input={"steps": 3, "fail_at": 2},
        webhook=receiver.url + failed,
        raise_error=False,
    )
    _, body = await receiver.call_to(failed)
    assert body["status"] == "error"
    assert body["error"] == {"error": "ValueError", "message": "failed at step 2"}


async def test_a_webhook_that_is_not_a_url_is_refused(deployment: Deployment) -> None:
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=10) as http:
        answer = await http.post(
            "/runs", json={"assistant_id": "counter", "input": {}, "webhook": "ftp://x/y"}
        )
    assert answer.status_code == 422 and "webhook" in answer.json()["detail"]

"""``VLLM_BASE_URL`` and ``VLLM_MODEL_NAME`` configure the model of a real ``headwater dev``."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.harness import ROOT, headwater, start_dev
from tests.services import free_port, wait_for_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.fixture
def model_server() -> Iterator[str]:
    """A simulator standing in for a vLLM server the deployment is pointed at."""
    port = free_port()
    process = subprocess.Popen(
        headwater("simllm", "--port", str(port)),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_dev_uses_the_model_named_by_the_vllm_variables(model_server: str) -> None:
    deployment = start_dev({"VLLM_BASE_URL": model_server, "VLLM_MODEL_NAME": "served-model"})
    try:
        with httpx.Client(base_url=deployment.base_url, timeout=60) as http:
            thread = http.post("/threads", json={}).json()["thread_id"]
            values = http.post(
                f"/threads/{thread}/runs/wait",
                json={"assistant_id": "agent", "input": {"messages": [("user", "hello")]}},
            ).json()
        reply = values["messages"][-1]
        assert reply["content"] == "Hello! I am the Headwater simulator."
        assert reply["response_metadata"]["model_name"] == "served-model"
        assert f"LLM:       {model_server}" in deployment.log_of("dev")  # no simulator of its own
    finally:
        deployment.stop()

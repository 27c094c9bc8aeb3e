"""The LLM simulator speaks vLLM's OpenAI wire format, deterministically."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from headwater.simllm.app import create_app, embed
from headwater.simllm.config import SimConfig

pytestmark = pytest.mark.unit
TOOLS = [{"type": "function", "function": {"name": "calculator", "parameters": {"type": "object"}}}]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SimConfig(reply_tokens=12))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sim"
    ) as client:
        yield client


def frames(body: str) -> list[Any]:
    assert body.endswith("data: [DONE]\n\n")
    parts = [p for p in body.split("\n\n") if p]
    assert all(p.startswith("data: ") for p in parts)
    return [json.loads(p[6:]) for p in parts[:-1]]


async def chat(http: httpx.AsyncClient, text: str, **extra: Any) -> httpx.Response:
    return await http.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": text}], **extra}
    )


async def test_stream_sequence_matches_vllm(http: httpx.AsyncClient) -> None:
    r = await chat(http, "hello", stream=True, stream_options={"include_usage": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    chunks = frames(r.text)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert len({c["id"] for c in chunks}) == 1 and all(
        c["object"] == "chat.completion.chunk" for c in chunks
    )
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert content == "Hello! I am the Headwater simulator."
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 6


async def test_generated_reply_is_labelled_and_capped(http: httpx.AsyncClient) -> None:
    r = await chat(http, "tell me a story")
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"].startswith("[simulated]")
    assert body["usage"]["completion_tokens"] == 12
    capped = (await chat(http, "tell me a story", max_tokens=3)).json()
    assert (
        capped["choices"][0]["finish_reason"] == "length"
        and capped["usage"]["completion_tokens"] == 3
    )
    stopped = (await chat(http, "hello", stop=["simulator"])).json()
    assert stopped["choices"][0]["message"]["content"] == "Hello! I am the Headwater "


async def test_tool_call_streams_arguments(http: httpx.AsyncClient) -> None:
    chunks = frames((await chat(http, "please calculate 6*7", stream=True, tools=TOOLS)).text)
    calls = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks
        if "tool_calls" in c["choices"][0]["delta"]
    ]
    assert calls[0]["function"]["name"] == "calculator" and calls[0]["id"].startswith(
        "chatcmpl-tool-"
    )
    arguments = "".join(c["function"]["arguments"] for c in calls)
    assert json.loads(arguments) == {"expression": "6*7"} and len(calls) >= 3
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_tool_result_is_answered(http: httpx.AsyncClient) -> None:
    messages = [
        {"role": "user", "content": "calculate 6*7"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "calculator", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ]
    r = await http.post("/v1/chat/completions", json={"messages": messages, "tools": TOOLS})
    assert r.json()["choices"][0]["message"]["content"] == "The tool returned: 42."


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"messages": []},
        {"messages": "hi"},
        {"messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": True}},
    ],
)
async def test_bad_requests_are_400_with_openai_errors(
    http: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    r = await http.post("/v1/chat/completions", json=body)
    assert r.status_code == 400 and r.json()["error"]["type"] == "BadRequestError"
    assert (
        await http.post(
            "/v1/chat/completions", content=b"{", headers={"content-type": "application/json"}
        )
    ).status_code == 400


async def test_models_and_embeddings(http: httpx.AsyncClient) -> None:
    models = (await http.get("/v1/models")).json()
    assert models["data"][0]["id"] == "headwater-sim"
    r = await http.post("/v1/embeddings", json={"input": ["a b", "a b"]})
    vectors = [d["embedding"] for d in r.json()["data"]]
    assert vectors[0] == vectors[1] and math.isclose(sum(v * v for v in vectors[0]), 1.0)


def test_embeddings_rank_shared_words_higher() -> None:
    def cosine(a: str, b: str) -> float:
        return sum(x * y for x, y in zip(embed(a), embed(b), strict=True))

    fact = "my favourite colour is blue"
    assert cosine(fact, "what is my favourite colour") > cosine(fact, "the weather in paris today")

"""The LLM simulator: vLLM's wire format, deterministic labelled replies, rules and limits."""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from headwater.simllm import app as app_module
from headwater.simllm.app import create_app
from headwater.simllm.config import DEFAULT_RULES, Rule, SimConfig, ToolCallSpec, load_rules
from headwater.simllm.server import serve_in_background

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "calculator",
            "description": "Evaluate an arithmetic expression.",
            "parameters": {
                "type": "object",
                "properties": {"expression": {"type": "string"}},
                "required": ["expression"],
            },
        },
    }
]


def client_for(config: SimConfig) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(config)),  # type: ignore[arg-type]
        base_url="http://sim",
    )


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(SimConfig(reply_tokens=10)) as client:
        yield client


def sse(body: str) -> list[dict[str, Any]]:
    """Parse a finished SSE body: every frame is ``data: …``, ``[DONE]`` last and only last."""
    frames = body.split("\n\n")
    assert frames[-1] == "" and frames[-2] == "data: [DONE]"
    frames = frames[:-2]
    assert all(f.startswith("data: {") for f in frames)
    return [json.loads(f[len("data: ") :]) for f in frames]


def user(text: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


async def stream(http: httpx.AsyncClient, **body: Any) -> list[dict[str, Any]]:
    r = await http.post("/v1/chat/completions", json={"stream": True, **body})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    return sse(r.text)


async def complete(http: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await http.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    reply: dict[str, Any] = r.json()
    return reply


def content_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def tool_deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks
        if c["choices"] and "tool_calls" in c["choices"][0]["delta"]
    ]


@pytest.mark.unit
async def test_stream_chunk_sequence_is_vllms(http: httpx.AsyncClient) -> None:
    chunks = await stream(
        http,
        model="headwater-sim",
        messages=user("hello there"),
        stream_options={"include_usage": True},
    )
    first, *deltas, final, usage = chunks
    assert first["choices"] == [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": ""},
            "logprobs": None,
            "finish_reason": None,
        }
    ]
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
    assert len({c["created"] for c in chunks}) == 1
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert {c["model"] for c in chunks} == {"headwater-sim"}
    assert len(deltas) == 6 and all(d["choices"][0]["finish_reason"] is None for d in deltas)
    assert content_of(chunks) == "Hello! I am the Headwater simulator."
    assert [d["choices"][0]["delta"]["content"] for d in deltas[:2]] == ["Hello! ", "I "]
    assert final["choices"][0]["delta"] == {} and final["choices"][0]["finish_reason"] == "stop"
    assert usage["choices"] == []
    u = usage["usage"]
    assert u["completion_tokens"] == 6 and u["prompt_tokens"] > 0
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]


@pytest.mark.unit
async def test_stream_without_usage_ends_with_finish_then_done(http: httpx.AsyncClient) -> None:
    chunks = await stream(http, messages=user("hello"))
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(c["choices"] for c in chunks) and not any("usage" in c for c in chunks)


@pytest.mark.unit
async def test_generated_reply_is_labelled_and_deterministic(http: httpx.AsyncClient) -> None:
    chunks = await stream(http, messages=user("tell me a story"))
    pieces = [c["choices"][0]["delta"]["content"] for c in chunks[1:-1]]
    assert pieces[0] == "[simulated] "
    assert pieces[1:] == [f"sim-token-{i} " for i in range(1, 10)]
    body = await complete(http, messages=user("tell me a story"))
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    choice = body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "".join(pieces)}
    assert choice["finish_reason"] == "stop" and body["usage"]["completion_tokens"] == 10
    assert (await complete(http, messages=user("tell me a story")))["choices"] == body["choices"]


@pytest.mark.unit
async def test_tool_call_rule_streams_parseable_arguments(http: httpx.AsyncClient) -> None:
    chunks = await stream(
        http,
        messages=user("Please calculate 6*7"),
        tools=TOOLS,
        stream_options={"include_usage": True},
    )
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    head, *fragments = tool_deltas(chunks)
    assert head["index"] == 0 and head["type"] == "function"
    assert head["id"].startswith("chatcmpl-tool-")
    assert head["function"] == {"name": "calculator", "arguments": ""}
    assert 2 <= len(fragments) <= 3
    assert all(set(f) == {"index", "function"} for f in fragments)
    arguments = "".join(f["function"]["arguments"] for f in fragments)
    assert json.loads(arguments) == {"expression": "6*7"}
    assert content_of(chunks) == ""
    assert chunks[-2]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "tool_calls",
        "stop_reason": None,
    }
    assert chunks[-1]["choices"] == []


@pytest.mark.unit
async def test_tool_call_non_streaming(http: httpx.AsyncClient) -> None:
    body = await complete(http, messages=user("calculate 6*7"), tools=TOOLS)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["type"] == "function" and call["id"].startswith("chatcmpl-tool-")
    assert call["function"]["name"] == "calculator"
    assert json.loads(call["function"]["arguments"]) == {"expression": "6*7"}


@pytest.mark.unit
async def test_tool_call_skipped_when_tools_are_refused(http: httpx.AsyncClient) -> None:
    body = await complete(http, messages=user("calculate 6*7"), tools=TOOLS, tool_choice="none")
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["choices"][0]["message"]["content"].startswith("[simulated]")


@pytest.mark.unit
async def test_tool_result_is_answered(http: httpx.AsyncClient) -> None:
    messages = [
        *user("calculate 6*7"),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call-1",
                    "type": "function",
                    "function": {"name": "calculator", "arguments": '{"expression": "6*7"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call-1", "content": "42"},
    ]
    body = await complete(http, messages=messages, tools=TOOLS)
    assert body["choices"][0]["message"]["content"] == "The tool returned: 42."
    chunks = await stream(http, messages=messages, tools=TOOLS)
    assert content_of(chunks) == "The tool returned: 42."
    assert len(chunks) > 4


@pytest.mark.unit
async def test_content_parts_are_matched_by_their_text(http: httpx.AsyncClient) -> None:
    parts = [{"type": "text", "text": "well,"}, {"type": "text", "text": "HELLO"}]
    body = await complete(http, messages=user(parts))
    assert body["choices"][0]["message"]["content"] == "Hello! I am the Headwater simulator."


@pytest.mark.unit
async def test_stop_cuts_before_the_stop_string(http: httpx.AsyncClient) -> None:
    body = await complete(http, messages=user("hello"), stop=["Headwater", "simulator"])
    assert body["choices"][0]["message"]["content"] == "Hello! I am the "
    assert body["choices"][0]["finish_reason"] == "stop"
    chunks = await stream(http, messages=user("hello"), stop="am")
    assert content_of(chunks) == "Hello! I "
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.unit
async def test_max_tokens_caps_with_finish_length(http: httpx.AsyncClient) -> None:
    body = await complete(http, messages=user("tell me a story"), max_tokens=3)
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["choices"][0]["message"]["content"] == "[simulated] sim-token-1 sim-token-2 "
    assert body["usage"]["completion_tokens"] == 3
    chunks = await stream(
        http,
        messages=user("tell me a story"),
        max_completion_tokens=4,
        stream_options={"include_usage": True},
    )
    assert len(chunks) == 1 + 4 + 1 + 1
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"]["completion_tokens"] == 4
    uncapped = await complete(http, messages=user("hello"), max_tokens=100)
    assert uncapped["choices"][0]["finish_reason"] == "stop"
    empty = await complete(http, messages=user("hello"), max_tokens=0)
    assert empty["choices"][0]["message"]["content"] == ""
    assert empty["choices"][0]["finish_reason"] == "length"


@pytest.mark.unit
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"messages": []},
        {"messages": "hello"},
        {"messages": ["hello"]},
        {"messages": user("hello"), "stream_options": {"include_usage": True}},
        {"messages": user("hello"), "stream": False, "stream_options": {"include_usage": True}},
        {"messages": user("hello"), "max_tokens": -1},
        {"messages": user("hello"), "sim_ttft_ms": "soon"},
        [1, 2],
    ],
)
async def test_bad_requests_get_openai_errors(http: httpx.AsyncClient, body: Any) -> None:
    r = await http.post("/v1/chat/completions", json=body)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["type"] == "BadRequestError" and error["code"] == 400
    assert error["param"] is None and isinstance(error["message"], str) and error["message"]


@pytest.mark.unit
async def test_invalid_json_is_400(http: httpx.AsyncClient) -> None:
    r = await http.post(
        "/v1/chat/completions", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["error"]["type"] == "BadRequestError"


@pytest.mark.unit
async def test_models_and_health(http: httpx.AsyncClient) -> None:
    r = await http.get("/v1/models")
    body = r.json()
    assert body["object"] == "list"
    (model,) = body["data"]
    assert isinstance(model.pop("created"), int)
    assert model == {
        "id": "headwater-sim",
        "object": "model",
        "owned_by": "headwater-simllm",
        "root": "headwater-sim",
        "parent": None,
        "max_model_len": 32768,
    }
    health = await http.get("/health")
    assert health.status_code == 200 and health.content == b""


@pytest.mark.unit
async def test_custom_rules_first_match_wins(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(
        json.dumps(
            [
                {"contains": "weather", "reply": "Sunny, you said: {last_user}"},
                {"contains": "weather", "reply": "never reached"},
                {"contains": "long", "reply_tokens": 3},
                {
                    "contains": "search",
                    "tool_call": {"name": "search", "arguments": {"q": "{after:search}"}},
                },
            ]
        )
    )
    rules = load_rules(path)
    assert rules[0] == Rule(contains="weather", reply="Sunny, you said: {last_user}")
    assert rules[3].tool_call == ToolCallSpec("search", {"q": "{after:search}"})
    async with client_for(SimConfig(rules=rules, reply_tokens=50)) as http:
        weather = await complete(http, messages=user("Weather today?"))
        assert weather["choices"][0]["message"]["content"] == "Sunny, you said: Weather today?"
        long = await complete(http, messages=user("a long one"))
        assert long["usage"]["completion_tokens"] == 3
        search = await complete(http, messages=user("Search for cats"))
        (call,) = search["choices"][0]["message"]["tool_calls"]
        assert json.loads(call["function"]["arguments"]) == {"q": "for cats"}
        other = await complete(http, messages=user("hello"))
        assert other["usage"]["completion_tokens"] == 50


@pytest.mark.unit
def test_default_rules_are_present() -> None:
    assert SimConfig().rules == DEFAULT_RULES
    slow = next(r for r in DEFAULT_RULES if r.contains == "slow")
    assert slow.reply_tokens == 40 and slow.token_delay_ms == 50


@pytest.mark.unit
async def test_zero_delay_never_sleeps(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_sleep(_: float) -> None:
        raise AssertionError("slept at zero delay")

    monkeypatch.setattr(app_module, "asyncio", SimpleNamespace(sleep=no_sleep))
    chunks = await stream(http, messages=user("tell me a story"))
    assert len(chunks) == 12
    assert (await complete(http, messages=user("calculate 1+1"), tools=TOOLS))["choices"]


@pytest.mark.unit
async def test_delays_and_per_request_overrides(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(app_module, "asyncio", SimpleNamespace(sleep=record))
    await stream(http, messages=user("hi"), sim_ttft_ms=30, sim_token_delay_ms=5, max_tokens=4)
    assert slept == [0.03, 0.005, 0.005, 0.005]
    slept.clear()
    chunks = await stream(http, messages=user("be slow"), max_tokens=3)
    assert slept == [0.05, 0.05] and len(chunks) == 5
    slept.clear()
    await stream(http, messages=user("be slow"), max_tokens=3, sim_token_delay_ms=0)
    assert slept == []


@pytest.mark.unit
async def test_real_delays_are_applied() -> None:
    async with client_for(SimConfig(ttft_ms=40, token_delay_ms=10, reply_tokens=3)) as http:
        start = time.perf_counter()
        await stream(http, messages=user("story"))
        assert time.perf_counter() - start >= 0.055


@pytest.mark.unit
async def test_embeddings_shape_and_determinism(http: httpx.AsyncClient) -> None:
    r = await http.post("/v1/embeddings", json={"model": "emb", "input": ["a b c", "a b c"]})
    body = r.json()
    assert r.status_code == 200 and body["object"] == "list" and body["model"] == "emb"
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert {d["object"] for d in body["data"]} == {"embedding"}
    first, second = (d["embedding"] for d in body["data"])
    assert len(first) == 64 and first == second
    assert math.isclose(sum(v * v for v in first), 1.0)
    assert body["usage"] == {"prompt_tokens": 6, "total_tokens": 6}
    single = (await http.post("/v1/embeddings", json={"input": "A b C"})).json()
    assert single["data"][0]["embedding"] == first
    assert (await http.post("/v1/embeddings", json={"input": 3})).status_code == 400


@pytest.mark.unit
async def test_embeddings_rank_shared_words_higher(http: httpx.AsyncClient) -> None:
    texts = ["my favourite colour is blue", "what is my favourite colour", "the weather in paris"]
    body = (await http.post("/v1/embeddings", json={"input": texts})).json()
    fact, question, weather = (d["embedding"] for d in body["data"])

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(fact, question) > cosine(fact, weather)


@pytest.fixture(scope="module")
async def sim_url() -> AsyncIterator[str]:
    server, task, port = await serve_in_background(SimConfig(reply_tokens=20), "127.0.0.1", 0)
    assert port > 0
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        await task


@pytest.mark.unit
async def test_openai_client_against_a_real_server(sim_url: str) -> None:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=sim_url, api_key="not-needed")
    try:
        models = await client.models.list()
        assert [m.id for m in models.data] == ["headwater-sim"]

        completion = await client.chat.completions.create(
            model="headwater-sim", messages=[{"role": "user", "content": "hello"}]
        )
        assert completion.choices[0].message.content == "Hello! I am the Headwater simulator."
        assert completion.usage is not None and completion.usage.completion_tokens == 6

        stream = await client.chat.completions.create(
            model="headwater-sim",
            messages=[{"role": "user", "content": "tell me a story"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        pieces: list[str] = []
        finish: str | None = None
        usage = None
        async for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                pieces.append(choice.delta.content or "")
                finish = choice.finish_reason or finish
        assert "".join(pieces).startswith("[simulated] sim-token-1 ")
        assert finish == "stop" and usage is not None and usage.completion_tokens == 20

        call = await client.chat.completions.create(
            model="headwater-sim",
            messages=[{"role": "user", "content": "calculate 6*7"}],
            tools=TOOLS,  # type: ignore[arg-type]
        )
        tool_calls = call.choices[0].message.tool_calls
        assert tool_calls is not None and call.choices[0].finish_reason == "tool_calls"
        assert tool_calls[0].type == "function"
        assert json.loads(tool_calls[0].function.arguments) == {"expression": "6*7"}

        embedding = await client.embeddings.create(model="headwater-sim", input="blue sky")
        assert len(embedding.data[0].embedding) == 64
    finally:
        await client.close()


@pytest.mark.unit
async def test_langchain_chat_openai_streams_text_and_tool_calls(sim_url: str) -> None:
    from langchain_core.messages import AIMessageChunk
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    llm = ChatOpenAI(model="headwater-sim", base_url=sim_url, api_key=SecretStr("not-needed"))
    chunks = [c async for c in llm.astream("hello")]
    assert len(chunks) > 3
    text = "".join(str(c.content) for c in chunks)
    assert text == "Hello! I am the Headwater simulator."

    tooled = llm.bind_tools(TOOLS)
    merged: AIMessageChunk | None = None
    async for chunk in tooled.astream("please calculate 6*7"):
        assert isinstance(chunk, AIMessageChunk)
        merged = chunk if merged is None else merged + chunk
    assert merged is not None
    (call,) = merged.tool_calls
    assert call["name"] == "calculator" and call["args"] == {"expression": "6*7"}
    assert str(call["id"]).startswith("chatcmpl-tool-")
    assert merged.response_metadata.get("finish_reason") == "tool_calls"


# usage knob and transcription ---------------------------------------------------------
@pytest.mark.unit
async def test_rule_without_usage_never_sends_the_usage_chunk(http: httpx.AsyncClient) -> None:
    chunks = await stream(
        http, messages=user("hello without usage"), stream_options={"include_usage": True}
    )
    assert content_of(chunks) == "This reply comes without usage."
    assert all("usage" not in c for c in chunks)
    whole = await complete(http, messages=user("hello without usage"))
    assert whole["usage"]["completion_tokens"] == 5  # a non-streamed reply always reports


def wav_bytes(seconds: float, rate: int = 8000) -> bytes:
    import io
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(b"\x01\x00" * int(seconds * rate))
    return out.getvalue()


@pytest.mark.unit
@pytest.mark.parametrize("response_format", ["json", "text", "verbose_json"])
async def test_transcription_says_how_long_the_wav_is(
    http: httpx.AsyncClient, response_format: str
) -> None:
    r = await http.post(
        "/v1/audio/transcriptions",
        files={"file": ("a.wav", wav_bytes(1.5), "audio/wav")},
        data={"model": "whisper-1", "response_format": response_format, "language": "fr"},
    )
    assert r.status_code == 200
    text = "[simulated] 1.50 s of audio"
    if response_format == "text":
        assert r.text == text and r.headers["content-type"].startswith("text/plain")
    elif response_format == "json":
        assert r.json() == {"text": text}
    else:
        body = r.json()
        assert body["text"] == text and body["duration"] == 1.5 and body["language"] == "fr"
        assert body["segments"][0]["end"] == 1.5


@pytest.mark.unit
async def test_transcription_refuses_what_it_cannot_read(http: httpx.AsyncClient) -> None:
    sent = {"file": ("a.wav", b"RIFF but not really", "audio/wav")}
    garbage = await http.post("/v1/audio/transcriptions", files=sent, data={"model": "w"})
    assert garbage.status_code == 400 and "WAV" in garbage.json()["error"]["message"]
    no_file = await http.post("/v1/audio/transcriptions", data={"model": "w"})
    assert no_file.status_code == 400
    ok = {"file": ("a.wav", wav_bytes(0.1), "audio/wav")}
    assert (await http.post("/v1/audio/transcriptions", files=ok)).status_code == 400
    srt = await http.post(
        "/v1/audio/transcriptions", files=ok, data={"model": "w", "response_format": "srt"}
    )
    assert srt.status_code == 400


@pytest.mark.unit
async def test_worker_telemetry_counts_usage_the_model_did_not_report(sim_url: str) -> None:
    """ChatOpenAI with a base_url streams without usage unless ``stream_usage=True``: the
    worker's callback counts the deltas and marks the message's usage as estimated."""
    from langchain_openai import ChatOpenAI
    from opentelemetry.trace import INVALID_SPAN
    from pydantic import SecretStr

    from headwater.common.usage import USAGE_SOURCE
    from headwater.worker.telemetry import RunTelemetry

    llm = ChatOpenAI(
        model="headwater-sim", base_url=sim_url, api_key=SecretStr("x"), streaming=True
    )
    config: Any = {"callbacks": [RunTelemetry(INVALID_SPAN, traced=False)]}
    reply = await llm.ainvoke("tell me a story", config)
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["output_tokens"] == 20  # the simulator's deltas
    assert reply.usage_metadata["input_tokens"] > 0
    assert reply.response_metadata[USAGE_SOURCE] == "estimated"
    reported = await llm.bind(stream_options={"include_usage": True}).ainvoke("hello", config)
    assert reported.usage_metadata is not None
    assert reported.usage_metadata["output_tokens"] == 6
    assert USAGE_SOURCE not in reported.response_metadata


@pytest.mark.unit
async def test_llm_span_reports_usage_and_its_source(sim_url: str) -> None:
    from langchain_openai import ChatOpenAI
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from pydantic import SecretStr

    from headwater.worker.telemetry import RunTelemetry

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    llm = ChatOpenAI(
        model="headwater-sim", base_url=sim_url, api_key=SecretStr("x"), streaming=True
    )
    with tracer.start_as_current_span("graph") as graph_span:
        telemetry = RunTelemetry(graph_span, traced=True)
        telemetry.tracer = tracer
        await llm.ainvoke("tell me a story", {"callbacks": [telemetry]})
        await llm.bind(stream_options={"include_usage": True}).ainvoke(
            "hello", {"callbacks": [telemetry]}
        )
    calls = [s for s in exporter.get_finished_spans() if s.name == "chat headwater-sim"]
    assert len(calls) == 2
    estimated, reported = (dict(s.attributes or {}) for s in calls)
    assert estimated["headwater.usage.source"] == "estimated"
    assert estimated["gen_ai.usage.output_tokens"] == 20
    assert int(estimated["gen_ai.usage.input_tokens"]) > 0
    assert reported["headwater.usage.source"] == "reported"
    assert (reported["gen_ai.usage.input_tokens"], reported["gen_ai.usage.output_tokens"]) == (
        4,
        6,
    )

"""The lean model client against the real simulator over HTTP, and inside a LangGraph graph."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph
from pydantic import BaseModel

from headwater.llm import ChatOpenAICompatible, ModelServerError
from headwater.llm.sse import SSEDataReader
from headwater.simllm.config import DEFAULT_RULES, Rule, SimConfig, ToolCallSpec
from headwater.simllm.server import serve_in_background
from tests.services import free_port

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]


class Answer(BaseModel):
    """The structured answer the model must give."""

    city: str
    population: int


RULES = (
    Rule(
        contains="structured",
        tool_call=ToolCallSpec("Answer", {"city": "Lyon", "population": 522000}),
    ),
    *DEFAULT_RULES,
)


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression."""
    return "42"


@pytest.fixture(scope="module")
async def sim_url() -> AsyncIterator[str]:
    server, task, port = await serve_in_background(
        SimConfig(reply_tokens=12, rules=RULES), "127.0.0.1", 0
    )
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    await task


def model(url: str, **kwargs: object) -> ChatOpenAICompatible:
    return ChatOpenAICompatible(base_url=url, api_key="unused", model="headwater-sim", **kwargs)


async def test_streams_text_with_usage_and_finish_reason(sim_url: str) -> None:
    chunks = [c async for c in model(sim_url).astream("tell me something")]
    text = "".join(str(c.content) for c in chunks)
    assert text.startswith("[simulated] sim-token-1 ")
    assert text.split() == ["[simulated]"] + [f"sim-token-{i}" for i in range(1, 12)]
    content_chunks = [c for c in chunks if c.content]
    assert len(content_chunks) == 12  # one chunk per streamed delta, none merged or lost
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged + chunk
    assert isinstance(merged, AIMessageChunk)
    assert merged.usage_metadata is not None
    assert merged.usage_metadata["output_tokens"] == 12
    assert merged.usage_metadata["total_tokens"] == (
        merged.usage_metadata["input_tokens"] + merged.usage_metadata["output_tokens"]
    )
    assert merged.response_metadata["finish_reason"] == "stop"
    assert merged.response_metadata["model_name"] == "headwater-sim"
    assert merged.response_metadata["id"].startswith("chatcmpl-")
    assert len({c.id for c in chunks}) == 1, "every chunk of one reply has the same id"


async def test_invoke_streaming_and_not_give_the_same_message(sim_url: str) -> None:
    streamed = await model(sim_url, streaming=True).ainvoke("hello")
    whole = await model(sim_url).ainvoke("hello")
    assert streamed.content == whole.content == "Hello! I am the Headwater simulator."
    assert streamed.usage_metadata == whole.usage_metadata
    assert whole.usage_metadata is not None and whole.usage_metadata["output_tokens"] > 0


@pytest.mark.parametrize("streaming", [True, False])
async def test_tool_calls_are_parsed(sim_url: str, streaming: bool) -> None:
    bound = model(sim_url, streaming=streaming).bind_tools([calculator])
    reply = await bound.ainvoke("please calculate 6*7")
    assert [(c["name"], c["args"]) for c in reply.tool_calls] == [
        ("calculator", {"expression": "6*7"})
    ]
    assert reply.tool_calls[0]["id"]
    assert reply.response_metadata["finish_reason"] == "tool_calls"


async def test_structured_output_through_tool_calling(sim_url: str) -> None:
    answer = await model(sim_url).with_structured_output(Answer).ainvoke("structured please")
    assert answer == Answer(city="Lyon", population=522000)


async def test_sampling_parameters_reach_the_server(sim_url: str) -> None:
    capped = await model(sim_url, max_tokens=3).ainvoke("tell me something")
    assert capped.usage_metadata is not None and capped.usage_metadata["output_tokens"] == 3
    assert capped.response_metadata["finish_reason"] == "length"
    bound = await model(sim_url).bind(max_tokens=4).ainvoke("tell me something")
    assert bound.usage_metadata is not None and bound.usage_metadata["output_tokens"] == 4
    stopped = await model(sim_url).ainvoke("tell me something", stop=["sim-token-3"])
    assert "sim-token-2" in str(stopped.content) and "sim-token-3" not in str(stopped.content)


async def test_image_parts_pass_through(sim_url: str) -> None:
    message = HumanMessage(
        content=[
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        ]
    )
    reply = await model(sim_url).ainvoke([message])
    assert reply.content == "I see 1 image(s)."


async def test_a_refused_request_raises_with_the_server_message(sim_url: str) -> None:
    with pytest.raises(ModelServerError) as refused:
        await model(sim_url).ainvoke("hi", stop=[1, 2])  # type: ignore[list-item]
    assert refused.value.status_code == 400
    assert "stop" in refused.value.message


async def test_nothing_listening_is_a_connection_error_after_retries() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(httpx.ConnectError):
        await model(url, max_retries=1).ainvoke("hi")


@contextlib.asynccontextmanager
async def flaky_server(failures: int) -> AsyncIterator[tuple[str, list[int]]]:
    """An HTTP server that answers 503 ``failures`` times, then a chat completion."""
    statuses: list[int] = []
    body = (
        b'{"id":"chatcmpl-1","model":"m","choices":[{"message":{"content":"recovered"},'
        b'"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}'
    )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        await reader.readexactly(length)
        status = 503 if len(statuses) < failures else 200
        statuses.append(status)
        payload = b'{"error":{"message":"busy"}}' if status == 503 else body
        reason = b"Service Unavailable" if status == 503 else b"OK"
        writer.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\nretry-after: 0\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status, reason, len(payload), payload)
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1", statuses
    finally:
        server.close()
        await server.wait_closed()


async def test_retryable_answers_are_retried() -> None:
    async with flaky_server(failures=2) as (url, statuses):
        reply = await model(url, max_retries=2).ainvoke("hi")
    assert reply.content == "recovered"
    assert statuses == [503, 503, 200]


async def test_retries_give_up_with_the_last_answer() -> None:
    async with flaky_server(failures=5) as (url, statuses):
        with pytest.raises(ModelServerError) as refused:
            await model(url, max_retries=1).ainvoke("hi")
    assert refused.value.status_code == 503 and refused.value.message == "busy"
    assert statuses == [503, 503]


async def test_tokens_reach_langgraph_messages_stream(sim_url: str) -> None:
    llm = model(sim_url)

    async def chat(state: MessagesState) -> dict[str, object]:
        return {"messages": [await llm.ainvoke(state["messages"])]}

    graph = StateGraph(MessagesState).add_node("chat", chat).add_edge(START, "chat").compile()
    parts = [
        part
        async for part in graph.astream(
            {"messages": [("user", "tell me something")]}, stream_mode="messages"
        )
    ]
    tokens = [chunk.content for chunk, meta in parts if meta["langgraph_node"] == "chat"]
    assert "".join(str(t) for t in tokens).split()[0] == "[simulated]"
    assert sum(1 for t in tokens if t) == 12


def test_sse_reader_joins_lines_split_across_chunks() -> None:
    reader = SSEDataReader()
    assert reader.feed(b'data: {"a"') == []
    assert reader.feed(b":1}\n\n: keep-alive\n\nevent: x\ndata: [DO") == [b'{"a":1}']
    assert reader.feed(b"NE]\n\n") == [b"[DONE]"]
    assert reader.feed(b"data: tail") == []
    assert reader.close() == [b"tail"]

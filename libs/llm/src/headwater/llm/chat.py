"""``ChatOpenAICompatible``: a lean LangChain chat model for OpenAI-compatible servers.

It speaks ``POST {base_url}/chat/completions`` with httpx and decodes each streamed chunk
with msgspec into an ``AIMessageChunk``. That skips the ``openai`` SDK's per-chunk pydantic
models, the largest CPU cost of a streaming ``ChatOpenAI`` (bench/llm_client_bench.py).
Everything a graph uses stays: ``bind_tools`` and tool-call chunks, ``with_structured_output``
(through tool calling, as LangChain's base model does it), usage, stop sequences, sampling
parameters given to the constructor or to ``.bind(...)``, image parts, retries and timeouts.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr

from headwater.llm.convert import (
    chat_result,
    generation_chunk,
    request_messages,
    request_tool_choice,
)
from headwater.llm.sse import aiter_payloads, iter_payloads
from headwater.llm.wire import (
    CHUNK_DECODER,
    COMPLETION_DECODER,
    ENCODER,
    ERROR_DECODER,
)

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
"""Answers worth asking again: timeouts, rate limits, a server restarting or overloaded."""

_SAMPLING = (
    "temperature",
    "max_tokens",
    "top_p",
    "frequency_penalty",
    "presence_penalty",
    "seed",
    "n",
)
_NOT_FOR_THE_WIRE = frozenset({"stream", "stream_usage"})


class ModelServerError(Exception):
    """The model server refused a request (a 4xx, or a 5xx after the retries)."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(f"model server answered {status_code}: {message}")
        self.status_code = status_code
        self.message = message


def _error_message(response_body: bytes) -> str:
    try:
        body = ERROR_DECODER.decode(response_body)
    except ValueError:
        return response_body[:500].decode("utf-8", "replace")
    if body.error is not None and body.error.message:
        return body.error.message
    return body.message or response_body[:500].decode("utf-8", "replace")


def _retry_delay(attempt: int, response: httpx.Response | None) -> float:
    """Exponential backoff with jitter, or the server's ``Retry-After`` when it gives one."""
    if response is not None:
        retry_after: str | None = response.headers.get("retry-after")
        if retry_after is not None:
            try:
                seconds = float(retry_after)
            except ValueError:
                pass
            else:
                return min(seconds, 30.0)
    return min(0.5 * 2.0**attempt, 8.0) * (0.75 + random.random() / 2)


def _env_base_url() -> str:
    return os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"


def _env_api_key() -> SecretStr:
    return SecretStr(os.environ.get("OPENAI_API_KEY") or "EMPTY")


class ChatOpenAICompatible(BaseChatModel):
    """A chat model served by vLLM or any OpenAI-compatible ``/v1/chat/completions``.

    A drop-in for ``ChatOpenAI(base_url=…, api_key=…, model=…)`` in a graph::

        model = ChatOpenAICompatible(base_url="http://vllm:8000/v1", model="Qwen/Qwen3-8B")
        model.bind_tools([calculator]).ainvoke(messages)

    ``base_url`` and ``api_key`` default to ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``.
    Extra request fields that the server understands (vLLM's ``top_k``, ``guided_json``, …)
    go in ``extra_body``; any OpenAI parameter may also be given to ``.bind(...)``.
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    model_name: str = Field(default="gpt-4o-mini", alias="model")
    base_url: str = Field(default_factory=_env_base_url, alias="openai_api_base")
    api_key: SecretStr = Field(default_factory=_env_api_key, alias="openai_api_key")
    temperature: float | None = None
    max_tokens: int | None = Field(default=None, alias="max_completion_tokens")
    top_p: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    seed: int | None = None
    n: int | None = None
    stop: list[str] | str | None = Field(default=None, alias="stop_sequences")
    streaming: bool = False
    stream_usage: bool = True
    """Ask for the usage chunk at the end of a stream (``stream_options.include_usage``)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    extra_body: dict[str, Any] = Field(default_factory=dict)
    default_headers: dict[str, str] = Field(default_factory=dict)
    timeout: float | None = Field(default=600.0, alias="request_timeout")
    """Seconds to wait for the server; ``None`` waits for ever. Connecting takes at most 10."""
    max_retries: int = 2
    """Extra attempts after a connection error or a retryable answer, before any token."""

    _async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
        PrivateAttr(default_factory=weakref.WeakKeyDictionary)
    )
    _sync_client: httpx.Client | None = PrivateAttr(default=None)

    # LangChain's model interface ---------------------------------------------------------
    @property
    def _llm_type(self) -> str:
        return "openai-compatible"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self.model_name, "base_url": self.base_url}
        params.update(self._sampling())
        return params

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="openai", ls_model_name=self.model_name, ls_model_type="chat"
        )
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        wanted: Any = stop or kwargs.get("stop") or self.stop
        if wanted:
            params["ls_stop"] = [wanted] if isinstance(wanted, str) else list(wanted)
        return params

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | bool | dict[str, Any] | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Offer ``tools`` to the model; ``tool_choice`` takes LangChain's spellings too."""
        formatted = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = request_tool_choice(tool_choice, formatted)
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **kwargs)

    # request building ---------------------------------------------------------------------
    def _sampling(self) -> dict[str, Any]:
        values = {name: getattr(self, name) for name in _SAMPLING}
        return {name: value for name, value in values.items() if value is not None}

    def _payload(
        self, messages: list[BaseMessage], stop: list[str] | None, stream: bool, **kwargs: Any
    ) -> bytes:
        payload: dict[str, Any] = {"model": self.model_name, "messages": request_messages(messages)}
        payload.update(self._sampling())
        payload.update(self.model_kwargs)
        wanted: list[str] | str | None = stop or self.stop
        if wanted:
            payload["stop"] = wanted
        for key, value in kwargs.items():
            if key not in _NOT_FOR_THE_WIRE and not key.startswith("ls_") and value is not None:
                payload[key] = value
        if stream:
            payload["stream"] = True
            if kwargs.get("stream_usage", self.stream_usage):
                payload["stream_options"] = {"include_usage": True}
        payload.update(self.extra_body)
        return ENCODER.encode(payload)

    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": "application/json"}
        key = self.api_key.get_secret_value()
        if key:
            headers["authorization"] = f"Bearer {key}"
        headers.update(self.default_headers)
        return headers

    def _url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"

    def _timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.timeout, connect=min(10.0, self.timeout or 10.0))

    def _async_client(self) -> httpx.AsyncClient:
        # One connection pool per event loop: an httpx client is bound to the loop it was
        # first used on, and a graph object may outlive a loop (tests, notebooks).
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = httpx.AsyncClient(
                timeout=self._timeout(),
                limits=httpx.Limits(max_connections=1000, max_keepalive_connections=100),
            )
            self._async_clients[loop] = client
        return client

    def _client(self) -> httpx.Client:
        if self._sync_client is None:
            self._sync_client = httpx.Client(timeout=self._timeout())
        return self._sync_client

    def _raise_if_final(self, response: httpx.Response, content: bytes, attempt: int) -> None:
        """Raise the server's refusal unless it is worth asking again (sync and async alike)."""
        if response.status_code not in RETRYABLE_STATUS or attempt >= self.max_retries:
            raise ModelServerError(response.status_code, _error_message(content))

    # async path ---------------------------------------------------------------------------
    async def _asend(self, body: bytes, stream: bool) -> httpx.Response:
        """Send with retries; the answer is open (streamed) and 2xx, or an error is raised."""
        client = self._async_client()
        request = client.build_request("POST", self._url(), content=body, headers=self._headers())
        attempt = 0
        while True:
            response: httpx.Response | None = None
            try:
                response = await client.send(request, stream=stream)
            except httpx.TransportError:
                if attempt >= self.max_retries:
                    raise
            else:
                if response.status_code < 300:
                    return response
                content = await response.aread()
                await response.aclose()
                self._raise_if_final(response, content, attempt)
            await asyncio.sleep(_retry_delay(attempt, response))
            attempt += 1

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        body = self._payload(messages, stop, stream=True, **kwargs)
        response = await self._asend(body, stream=True)
        try:
            async for payload in aiter_payloads(response.aiter_bytes()):
                chunk = generation_chunk(CHUNK_DECODER.decode(payload))
                if chunk is not None:
                    yield chunk
        finally:
            await response.aclose()

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        body = self._payload(messages, stop, stream=False, **kwargs)
        response = await self._asend(body, stream=False)
        return chat_result(COMPLETION_DECODER.decode(response.content))

    # sync path ----------------------------------------------------------------------------
    def _send(self, body: bytes, stream: bool) -> httpx.Response:
        client = self._client()
        request = client.build_request("POST", self._url(), content=body, headers=self._headers())
        attempt = 0
        while True:
            response: httpx.Response | None = None
            try:
                response = client.send(request, stream=stream)
            except httpx.TransportError:
                if attempt >= self.max_retries:
                    raise
            else:
                if response.status_code < 300:
                    return response
                content = response.read()
                response.close()
                self._raise_if_final(response, content, attempt)
            time.sleep(_retry_delay(attempt, response))
            attempt += 1

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        body = self._payload(messages, stop, stream=True, **kwargs)
        response = self._send(body, stream=True)
        try:
            for payload in iter_payloads(response.iter_bytes()):
                chunk = generation_chunk(CHUNK_DECODER.decode(payload))
                if chunk is not None:
                    yield chunk
        finally:
            response.close()

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        body = self._payload(messages, stop, stream=False, **kwargs)
        response = self._send(body, stream=False)
        return chat_result(COMPLETION_DECODER.decode(response.content))

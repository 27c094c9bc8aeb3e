"""Spans per graph node and per LLM call, and token-timing metrics, from LangChain callbacks.

Spans are made only when tracing is configured; the token histograms always count. The LLM
span is a CLIENT span with the GenAI semantic-convention attributes.

Usage is always known: when the model server reports none (a stream without
``include_usage``), the streamed deltas are counted as output tokens and the prompt is
estimated; the message gets that ``usage_metadata``, marked ``estimated`` (see
:mod:`headwater.common.usage`), so every front reports it, and so does the span.
"""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from headwater.common.telemetry.metrics import INTER_TOKEN, TIME_TO_FIRST_TOKEN
from headwater.common.usage import (
    USAGE_SOURCE,
    UsageSource,
    estimate_prompt_tokens,
    estimate_tokens,
)
from headwater.worker.presence import RunClock


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content
        )
    return ""


def _is_token(token: Any, chunk: Any) -> bool:
    """Whether a streamed delta carries generated text or tool-call arguments."""
    if token:
        return True
    message = getattr(chunk, "message", None)
    return any(piece.get("args") for piece in getattr(message, "tool_call_chunks", None) or [])


def settle_usage(message: Any, prompt: list[Any], deltas: int) -> UsageSource:
    """Give ``message`` a ``usage_metadata`` if the model reported none; say which it was."""
    if getattr(message, "usage_metadata", None):
        return "reported"
    text = _text(getattr(message, "content", None))
    output = deltas or estimate_tokens(text) + sum(
        estimate_tokens(str(call.get("args"))) for call in getattr(message, "tool_calls", [])
    )
    prompt_tokens = estimate_prompt_tokens([_text(getattr(m, "content", m)) for m in prompt])
    try:
        message.usage_metadata = {
            "input_tokens": prompt_tokens,
            "output_tokens": output,
            "total_tokens": prompt_tokens + output,
        }
        message.response_metadata[USAGE_SOURCE] = "estimated"
    except (AttributeError, TypeError, ValueError):  # not a LangChain message: leave it be
        pass
    return "estimated"


class RunTelemetry(BaseCallbackHandler):
    """One per run. ``graph_span`` parents the node spans; node spans parent LLM spans."""

    run_inline = True

    def __init__(self, graph_span: Span, *, traced: bool, clock: RunClock | None = None) -> None:
        self.graph_span = graph_span
        self.clock = clock
        self.traced = traced
        self.tracer = trace.get_tracer("headwater.worker")
        self.spans: dict[UUID, Span] = {}
        self.parents: dict[UUID, UUID | None] = {}
        self.started: dict[UUID, float] = {}
        self.last_token: dict[UUID, float] = {}
        self.prompts: dict[UUID, list[Any]] = {}
        self.deltas: dict[UUID, int] = {}

    def _parent(self, parent_run_id: UUID | None) -> Span:
        seen = 0
        while parent_run_id is not None and seen < 64:
            span = self.spans.get(parent_run_id)
            if span is not None:
                return span
            parent_run_id = self.parents.get(parent_run_id)
            seen += 1
        return self.graph_span

    def _start(
        self,
        name: str,
        run_id: UUID,
        parent_run_id: UUID | None,
        kind: SpanKind,
        attributes: dict[str, Any],
    ) -> None:
        context = trace.set_span_in_context(self._parent(parent_run_id))
        self.spans[run_id] = self.tracer.start_span(
            name, context=context, kind=kind, attributes=attributes
        )

    def _end(self, run_id: UUID, error: BaseException | None = None) -> None:
        self.parents.pop(run_id, None)
        span = self.spans.pop(run_id, None)
        if span is None:
            return
        if error is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, str(error)))
        span.end()

    # chains: a span for each graph node's execution --------------------------------
    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.parents[run_id] = parent_run_id
        if not self.traced:
            return
        node = (metadata or {}).get("langgraph_node")
        if node and kwargs.get("name") == node:
            attributes = {
                "langgraph.node": node,
                "langgraph.step": (metadata or {}).get("langgraph_step", -1),
            }
            self._start(f"node {node}", run_id, parent_run_id, SpanKind.INTERNAL, attributes)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, error)

    # chat models: a CLIENT span with GenAI attributes, token timing ----------------
    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        invocation_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.parents[run_id] = parent_run_id
        self.started[run_id] = time.perf_counter()
        self.prompts[run_id] = messages[0] if messages and isinstance(messages[0], list) else []
        if not self.traced:
            return
        params = invocation_params or kwargs.get("invocation_params") or {}
        model = str(
            params.get("model")
            or params.get("model_name")
            or (metadata or {}).get("ls_model_name")
            or "unknown"
        )
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": str((metadata or {}).get("ls_provider") or "openai"),
            "gen_ai.request.model": model,
        }
        for key in ("temperature", "max_tokens", "top_p"):
            if params.get(key) is not None:
                attributes[f"gen_ai.request.{key}"] = params[key]
        self._start(f"chat {model}", run_id, parent_run_id, SpanKind.CLIENT, attributes)

    def on_llm_new_token(self, token: Any, *, run_id: UUID, **kwargs: Any) -> None:
        if _is_token(token, kwargs.get("chunk")):
            self.deltas[run_id] = self.deltas.get(run_id, 0) + 1
        now = time.perf_counter()
        last = self.last_token.get(run_id)
        if last is None:
            if self.clock is not None:
                self.clock.token()
            started = self.started.get(run_id)
            if started is not None:
                ttft = now - started
                TIME_TO_FIRST_TOKEN.observe(ttft)
                span = self.spans.get(run_id)
                if span is not None:
                    span.set_attribute("gen_ai.response.time_to_first_token", ttft)
                    span.add_event("gen_ai.first_token")
        else:
            INTER_TOKEN.observe(now - last)
        self.last_token[run_id] = now

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        self.started.pop(run_id, None)
        self.last_token.pop(run_id, None)
        prompt = self.prompts.pop(run_id, [])
        deltas = self.deltas.pop(run_id, 0)
        span = self.spans.get(run_id)
        for generation in (g for gens in response.generations for g in gens):
            message = getattr(generation, "message", None)
            if message is None:
                continue
            source = settle_usage(message, prompt, deltas)
            if span is not None:
                usage = getattr(message, "usage_metadata", None) or {}
                span.set_attribute("gen_ai.usage.input_tokens", int(usage.get("input_tokens", 0)))
                span.set_attribute("gen_ai.usage.output_tokens", int(usage.get("output_tokens", 0)))
                span.set_attribute("headwater.usage.source", source)
                meta = getattr(message, "response_metadata", None) or {}
                if meta.get("model_name"):
                    span.set_attribute("gen_ai.response.model", str(meta["model_name"]))
                if meta.get("finish_reason"):
                    span.set_attribute(
                        "gen_ai.response.finish_reasons", [str(meta["finish_reason"])]
                    )
        self._end(run_id)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self.prompts.pop(run_id, None)
        self.deltas.pop(run_id, None)
        self.started.pop(run_id, None)
        self.last_token.pop(run_id, None)
        self._end(run_id, error)

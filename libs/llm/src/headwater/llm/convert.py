"""LangChain ⇄ chat-completions: request messages and tools out, chunks and replies in."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    convert_to_openai_messages,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import invalid_tool_call, tool_call, tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool

from headwater.llm.wire import Chunk, Completion, Usage

PROVIDER = "openai"
"""What LangChain calls the wire format (``model_provider`` in response metadata)."""


def request_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """Messages in the chat-completions shape: roles, tool calls, tool results, image parts."""
    converted = convert_to_openai_messages(list(messages))
    return converted if isinstance(converted, list) else [converted]


def request_tools(tools: Sequence[Any]) -> list[dict[str, Any]]:
    """Tools (LangChain tools, functions, pydantic models, JSON schemas) as OpenAI tools."""
    return [convert_to_openai_tool(t) for t in tools]


def request_tool_choice(choice: Any, tools: list[dict[str, Any]]) -> Any:
    """LangChain's ``tool_choice`` spellings in the OpenAI shape.

    ``"any"`` (what ``with_structured_output`` asks for) and ``True`` mean "call a tool":
    ``required``, or the one tool by name when there is only one. A tool's name picks it.
    """
    if choice is None or isinstance(choice, dict):
        return choice
    if choice is True or choice == "any":
        if len(tools) == 1:
            return {"type": "function", "function": {"name": tools[0]["function"]["name"]}}
        return "required"
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, str):
        return {"type": "function", "function": {"name": choice}}
    raise ValueError(f"unsupported tool_choice: {choice!r}")


def usage_metadata(usage: Usage) -> UsageMetadata:
    """The server's token counts as LangChain's ``usage_metadata``."""
    total = usage.total_tokens
    metadata = UsageMetadata(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=total if total is not None else usage.prompt_tokens + usage.completion_tokens,
    )
    details = usage.prompt_tokens_details
    if details is not None and details.cached_tokens is not None:
        metadata["input_token_details"] = {"cache_read": details.cached_tokens}
    reasoning = usage.completion_tokens_details
    if reasoning is not None and reasoning.reasoning_tokens is not None:
        metadata["output_token_details"] = {"reasoning": reasoning.reasoning_tokens}
    return metadata


def _finish_metadata(
    response_id: str | None, finish_reason: str | None, model: str | None, fingerprint: str | None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"model_provider": PROVIDER}
    if response_id is not None:
        metadata["id"] = response_id
    if finish_reason is not None:
        metadata["finish_reason"] = finish_reason
    if model is not None:
        metadata["model_name"] = model
    if fingerprint is not None:
        metadata["system_fingerprint"] = fingerprint
    return metadata


def generation_chunk(chunk: Chunk) -> ChatGenerationChunk | None:
    """One streamed chunk as a LangChain chunk; ``None`` when it carries nothing."""
    content = ""
    tool_chunks: list[Any] = []
    finish_reason = None
    reasoning = None
    if chunk.choices:
        choice = chunk.choices[0]
        delta = choice.delta
        content = delta.content or ""
        reasoning = delta.reasoning_content
        finish_reason = choice.finish_reason
        for call in delta.tool_calls or ():
            function = call.function
            tool_chunks.append(
                tool_call_chunk(
                    name=function.name if function else None,
                    args=function.arguments if function else None,
                    id=call.id,
                    index=call.index,
                )
            )
    usage = chunk.usage
    if not (content or tool_chunks or finish_reason or usage or reasoning):
        return None
    # No message id: LangChain gives every chunk of one call the same run-based id, and
    # its closing chunk too (as with ChatOpenAI); the server's id is in response_metadata.
    fields: dict[str, Any] = {"content": content}
    if tool_chunks:
        fields["tool_call_chunks"] = tool_chunks
    if usage is not None:
        fields["usage_metadata"] = usage_metadata(usage)
    if reasoning:
        fields["additional_kwargs"] = {"reasoning_content": reasoning}
    if finish_reason is not None:
        fields["response_metadata"] = _finish_metadata(
            chunk.id, finish_reason, chunk.model, chunk.system_fingerprint
        )
    return ChatGenerationChunk(message=AIMessageChunk(**fields))


def chat_result(completion: Completion) -> ChatResult:
    """A whole reply as a LangChain result, tool calls parsed (bad JSON → invalid calls)."""
    if not completion.choices:
        raise ValueError("the model server answered with no choices")
    choice = completion.choices[0]
    message = choice.message
    calls: list[Any] = []
    invalid: list[Any] = []
    for call in message.tool_calls or ():
        try:
            args = json.loads(call.function.arguments or "{}")
            if not isinstance(args, dict):
                raise ValueError("tool arguments are not a JSON object")
            calls.append(tool_call(name=call.function.name, args=args, id=call.id))
        except ValueError as exc:
            invalid.append(
                invalid_tool_call(
                    name=call.function.name,
                    args=call.function.arguments,
                    id=call.id,
                    error=str(exc),
                )
            )
    fields: dict[str, Any] = {
        "content": message.content or "",
        "tool_calls": calls,
        "invalid_tool_calls": invalid,
        "response_metadata": _finish_metadata(
            completion.id, choice.finish_reason, completion.model, completion.system_fingerprint
        ),
    }
    if completion.usage is not None:
        fields["usage_metadata"] = usage_metadata(completion.usage)
    if message.reasoning_content:
        fields["additional_kwargs"] = {"reasoning_content": message.reasoning_content}
    llm_output: dict[str, Any] = {"model_name": completion.model}
    if completion.usage is not None:
        llm_output["token_usage"] = {
            "prompt_tokens": completion.usage.prompt_tokens,
            "completion_tokens": completion.usage.completion_tokens,
            "total_tokens": fields.get("usage_metadata", {}).get("total_tokens"),
        }
    return ChatResult(
        generations=[ChatGeneration(message=AIMessage(**fields))], llm_output=llm_output
    )

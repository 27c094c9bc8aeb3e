"""The simple run API: start a run, watch its events, stop it (``/v1/runs``).

Run ids are ``run_<32 hex>``: the run's UUID without dashes. ``session_id`` names a thread
per caller, so a session continues a conversation.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream

from headwater.api.fronts.events import (
    Ended,
    Part,
    Usage,
    ai_chunk,
    final_ai_message,
    interrupts_of,
    run_parts,
    text_of,
    update_messages,
)
from headwater.api.fronts.keepalive import with_keepalives
from headwater.api.runs.service import RunService
from headwater.api.shared.context import default_assistant
from headwater.api.shared.schemas import RunCreate
from headwater.common.db.models import RunRow
from headwater.common.ids import named_thread_id

SESSION_NAMESPACE = uuid.UUID("5f0c8a52-3a8e-4d47-9a3c-7f2d6c1b9e10")
_encode = msgspec.json.Encoder()


def public_run_id(run_id: str) -> str:
    """``run_<hex>`` for a run UUID."""
    return "run_" + uuid.UUID(run_id).hex


def internal_run_id(public: str) -> str | None:
    """The run UUID behind ``run_<hex>``, or None when it is not one."""
    if not public.startswith("run_"):
        return None
    try:
        return str(uuid.UUID(hex=public[4:]))
    except ValueError:
        return None


def session_thread_id(secret: str, owner: str, session_id: str) -> str:
    """The thread of a caller's session."""
    return named_thread_id(secret, SESSION_NAMESPACE, owner, session_id)


def _error(status: int, code: str, message: str) -> Response[dict[str, Any]]:
    return Response({"error": {"code": code, "message": message}}, status_code=status)


def _frame(event: str, data: dict[str, Any], seq: int | None = None) -> bytes:
    head = b"event: " + event.encode() + b"\ndata: " + _encode.encode(data) + b"\n"
    return head + (b"id: %d\n\n" % seq if seq else b"\n")


async def translate(parts: AsyncIterator[Any], run_id: str) -> AsyncIterator[bytes]:  # noqa: C901 - to split (issue 14)
    """LangGraph stream parts → ``run.*``, ``message.delta`` and ``tool.*`` events."""
    usage = Usage()
    failed = False
    async for part in parts:
        if isinstance(part, Ended):
            if part.status == "success":
                final = final_ai_message(part.result) or {}
                output = text_of(final.get("content"))
                yield _frame(
                    "run.completed",
                    {
                        "run_id": run_id,
                        "status": "completed",
                        "output": output,
                        "usage": usage.as_openai(),
                    },
                )
            elif not failed:
                reason = "cancelled" if part.status == "interrupted" else part.status
                error = (
                    (part.result or {}).get("__error__") if isinstance(part.result, dict) else None
                )
                yield _frame(
                    "run.failed",
                    {
                        "run_id": run_id,
                        "status": "failed",
                        "error": (error or {}).get("message", reason),
                        "reason": reason,
                    },
                )
            return
        if not isinstance(part, Part):
            yield b": keep-alive\n\n"
            continue
        if part.event == "metadata":
            yield _frame(
                "run.started",
                {"run_id": run_id, "status": "running", "attempt": part.data.get("attempt", 1)},
                part.seq,
            )
        elif part.event == "error":
            failed = True
            yield _frame(
                "run.failed",
                {
                    "run_id": run_id,
                    "status": "failed",
                    "error": part.data.get("message"),
                    "reason": part.data.get("error"),
                },
                part.seq,
            )
        elif (chunk := ai_chunk(part)) is not None:
            usage.add(chunk)
            text = text_of(chunk.get("content"))
            if text:
                yield _frame("message.delta", {"run_id": run_id, "delta": text}, part.seq)
        elif part.event == "updates":
            for message in update_messages(part):
                for call in message.get("tool_calls") or []:
                    yield _frame(
                        "tool.started",
                        {
                            "run_id": run_id,
                            "tool": call.get("name"),
                            "args": call.get("args"),
                            "tool_call_id": call.get("id"),
                        },
                        part.seq,
                    )
                if message.get("type") == "tool":
                    yield _frame(
                        "tool.completed",
                        {
                            "run_id": run_id,
                            "tool": message.get("name"),
                            "output": text_of(message.get("content")),
                            "tool_call_id": message.get("tool_call_id"),
                        },
                        part.seq,
                    )
            for pending in interrupts_of(part):
                yield _frame("run.interrupted", {"run_id": run_id, "interrupt": pending}, part.seq)


class SimpleRunsController(Controller):
    """``POST /v1/runs``, ``GET /v1/runs/{run_id}/events``, ``POST /v1/runs/{run_id}/stop``."""

    path = "/v1/runs"
    tags = ["Simple runs"]

    @post("/", status_code=202)
    async def start(
        self,
        runs: NamedDependency[RunService],
        graph_ids: NamedDependency[list[str]],
        owner: NamedDependency[str],
        request: Request[Any, Any, Any],
    ) -> Response[dict[str, Any]]:
        """Start a run: ``{"input": "…", "session_id"?: "…", "assistant_id"?: "…"}``."""
        try:
            body = msgspec.json.decode(await request.body())
        except msgspec.DecodeError:
            return _error(400, "invalid_json", "The request body is not valid JSON.")
        if not isinstance(body, dict):
            return _error(400, "invalid_request", "The request body must be a JSON object.")
        prompt = body.get("input")
        if (
            prompt is None
            or prompt == ""
            or prompt == {}
            or (isinstance(prompt, str) and not prompt.strip())
        ):
            return _error(400, "missing_input", "`input` is required and must not be empty.")
        if not isinstance(prompt, str | dict):
            return _error(400, "invalid_input", "`input` must be a string or an object.")
        session_id = body.get("session_id")
        if session_id is not None and (not isinstance(session_id, str) or not session_id):
            return _error(400, "invalid_session", "`session_id` must be a non-empty string.")
        assistant = body.get("assistant_id") or default_assistant(runs.settings, graph_ids)
        graph_input = (
            {"messages": [{"role": "user", "content": prompt}]}
            if isinstance(prompt, str)
            else prompt
        )
        run_body = RunCreate(
            assistant_id=str(assistant),
            input=graph_input,
            metadata=body.get("metadata") if isinstance(body.get("metadata"), dict) else None,
            stream_mode=["messages-tuple", "updates", "tasks"],  # tasks: for /v1/debug
            if_not_exists="create",
            on_completion="keep",
        )
        thread_id = (
            session_thread_id(runs.settings.naming_secret, owner, session_id)
            if session_id
            else None
        )
        run, run_request = await runs.admission.create(
            run_body, thread_id=thread_id, owner=owner, headers=request.headers
        )
        await runs.admission.submit(run, run_request)
        answer = {
            "run_id": public_run_id(run.run_id),
            "status": "started",
            "thread_id": run.thread_id,
        }
        if session_id:
            answer["session_id"] = session_id
        return Response(answer, status_code=202)

    @get("/{run_id:str}/events")
    async def events(
        self, runs: NamedDependency[RunService], owner: NamedDependency[str], run_id: FromPath[str]
    ) -> Response[Any] | Stream:
        """Server-sent events of the run, from its start, until it ends."""
        run = await _owned_run(runs, owner, run_id)
        if run is None:
            return _error(404, "not_found", f"Run {run_id} not found.")
        subscription = await runs.bus.subscribe_events(run.thread_id, run.run_id)
        parts = run_parts(subscription, runs.status_check(run.run_id))
        return Stream(
            with_keepalives(translate(parts, run_id), runs.settings.sse_keepalive_s),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @post("/{run_id:str}/stop", status_code=200)
    async def stop(
        self, runs: NamedDependency[RunService], owner: NamedDependency[str], run_id: FromPath[str]
    ) -> Response[dict[str, Any]]:
        """Stop a run that has not finished."""
        run = await _owned_run(runs, owner, run_id)
        if run is None:
            return _error(404, "not_found", f"Run {run_id} not found.")
        if not await runs.admission.cancel(run, "interrupt"):
            return _error(404, "not_running", f"Run {run_id} has already finished.")
        return Response({"run_id": run_id, "status": "stopping"})


async def _owned_run(runs: RunService, owner: str, public: str) -> RunRow | None:
    run_id = internal_run_id(public)
    if run_id is None:
        return None
    async with runs.sessions() as session:
        run = await session.get(RunRow, run_id)
    return run if run is not None and run.owner == owner else None

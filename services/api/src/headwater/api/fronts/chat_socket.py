"""WebSocket chat with human approvals (``/ws``).

Client → server::

    {"type": "message", "thread_id": "t1", "content": "send an email about the release"}
    {"type": "interrupt_response", "thread_id": "t1", "approved": true}

Server → client: ``token``, ``tool_call`` (``tool``, ``args``), ``interrupt`` (``action``:
what awaits approval), ``message_complete`` and ``error``, each with its ``thread_id``.
Threads on one socket are independent; runs belong to the server, so a dropped socket loses
none (their results are in the thread state).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from headwater.api.admission import RunAdmission
from headwater.api.context import ApiContext
from headwater.api.errors import ApiError
from headwater.api.fronts.events import (
    Ended,
    Part,
    ai_chunk,
    final_ai_message,
    interrupts_of,
    run_parts,
    text_of,
    update_messages,
)
from headwater.api.request_hygiene import NUL_ESCAPE
from headwater.api.runs import status_check
from headwater.api.schemas import RunCreate
from headwater.common.ids import is_uuid, named_thread_id
from headwater.common.telemetry.metrics import ACTIVE_STREAMS

log = logging.getLogger(__name__)
THREAD_NAMESPACE = uuid.UUID("0b6f3f2e-8d4c-4a51-9c7e-2a9d4f6e1c33")
SESSION_EXPIRED = 4408


class ChatSession:
    """One socket: reads client messages, relays each thread's run as it streams."""

    def __init__(self, socket: WebSocket[Any, Any, Any], ctx: ApiContext, owner: str) -> None:
        self.socket = socket
        self.ctx = ctx
        self.owner = owner
        self.sending = asyncio.Lock()
        self.relays: dict[str, asyncio.Task[None]] = {}

    def thread_id(self, name: str) -> str:
        """Client thread names map to thread ids per caller; UUIDs are used as they are."""
        if is_uuid(name):
            return name
        return named_thread_id(self.ctx.settings.naming_secret, THREAD_NAMESPACE, self.owner, name)

    async def send(self, message: dict[str, Any]) -> None:
        async with self.sending:
            await self.socket.send_data(msgspec.json.encode(message).decode(), mode="text")

    async def error(self, message: str, code: str, thread_id: str | None = None) -> None:
        payload: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if thread_id is not None:
            payload["thread_id"] = thread_id
        await self.send(payload)

    async def serve(self) -> None:
        """Until the client leaves or the session expires."""
        ACTIVE_STREAMS.labels("websocket").inc()
        try:
            while True:
                try:
                    async with asyncio.timeout(self.ctx.settings.ws_session_ttl_s):
                        raw = await self.socket.receive_data(mode="text")
                except TimeoutError:
                    await self.error(
                        "Session expired: no message within the session TTL. Reconnect to continue.",
                        "session_expired",
                    )
                    await self.socket.close(code=SESSION_EXPIRED, reason="session expired")
                    return
                await self.handle(raw)
        except WebSocketDisconnect:
            pass
        finally:
            ACTIVE_STREAMS.labels("websocket").dec()
            for task in self.relays.values():
                task.cancel()  # the runs go on; only this socket's relays stop
            for task in self.relays.values():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def handle(self, raw: str | bytes) -> None:
        if len(raw) > self.ctx.settings.ws_max_message_bytes:
            await self.error(
                f"Message too large: the limit is {self.ctx.settings.ws_max_message_bytes} bytes.",
                "message_too_large",
            )
            return
        try:
            message = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            await self.error("Invalid JSON.", "invalid_json")
            return
        if NUL_ESCAPE.search(raw.encode() if isinstance(raw, str) else raw):
            await self.error("Messages may not hold a NUL character.", "invalid_message")
            return
        if not isinstance(message, dict):
            await self.error("Messages must be JSON objects.", "invalid_message")
            return
        kind, name = message.get("type"), message.get("thread_id")
        if kind not in ("message", "interrupt_response"):
            await self.error(
                'Unknown message type: expected "message" or "interrupt_response".', "unknown_type"
            )
            return
        if not isinstance(name, str) or not name:
            await self.error("Missing thread_id.", "missing_thread_id")
            return
        previous = self.relays.get(name)
        if kind == "message":
            if previous is not None and not previous.done():
                await self.error(
                    "A run is already in progress on this thread.", "thread_busy", name
                )
                return
            content = message.get("content")
            if not isinstance(content, str) or not content.strip():
                await self.error("Empty content.", "empty_content", name)
                return
            body = RunCreate(
                assistant_id=self.ctx.default_assistant,
                input={"messages": [{"role": "user", "content": content}]},
            )
        else:
            approved = message.get("approved")
            if not isinstance(approved, bool):
                await self.error(
                    "interrupt_response needs approved: true or false.", "invalid_message", name
                )
                return
            body = RunCreate(
                assistant_id=self.ctx.default_assistant, command={"resume": {"approved": approved}}
            )
        body.stream_mode = ["messages-tuple", "updates"]
        body.if_not_exists = "create"
        body.multitask_strategy = "reject"
        self.relays[name] = asyncio.create_task(self.turn(name, body, previous))

    async def turn(self, name: str, body: RunCreate, previous: asyncio.Task[None] | None) -> None:
        """One run on a thread: after the thread's previous turn (a response may beat its end)."""
        if previous is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await previous
        try:
            run, subscription = await RunAdmission(self.ctx).start(
                body, thread_id=self.thread_id(name), owner=self.owner, headers=self.socket.headers
            )
        except ApiError as exc:
            await self.error(exc.detail, "run_rejected", name)
            return
        except Exception:
            log.exception("ws: starting a run on %s failed", name)
            await self.error("The run could not be started.", "internal", name)
            return
        await self.relay(name, run_parts(subscription, status_check(self.ctx, run.run_id)))

    async def relay(self, name: str, parts: Any) -> None:
        waiting = False
        async for part in parts:
            if isinstance(part, Ended):
                if part.status == "success" and not waiting:
                    final = final_ai_message(part.result) or {}
                    await self.send(
                        {
                            "type": "message_complete",
                            "thread_id": name,
                            "content": text_of(final.get("content")),
                        }
                    )
                elif part.status == "error":
                    error = (
                        (part.result or {}).get("__error__", {})
                        if isinstance(part.result, dict)
                        else {}
                    )
                    await self.error(error.get("message") or "The run failed.", "run_failed", name)
                elif part.status == "interrupted":
                    await self.error("The run was cancelled.", "run_cancelled", name)
                return
            if not isinstance(part, Part):
                continue
            if (chunk := ai_chunk(part)) is not None:
                text = text_of(chunk.get("content"))
                if text:
                    await self.send({"type": "token", "thread_id": name, "content": text})
            elif part.event == "updates":
                for message in update_messages(part):
                    for call in message.get("tool_calls") or []:
                        await self.send(
                            {
                                "type": "tool_call",
                                "thread_id": name,
                                "tool": call.get("name"),
                                "args": call.get("args"),
                            }
                        )
                for pending in interrupts_of(part):
                    waiting = True
                    await self.send(
                        {
                            "type": "interrupt",
                            "thread_id": name,
                            "interrupt_id": pending.get("id"),
                            "action": pending.get("value"),
                        }
                    )


@websocket("/ws")
async def chat_socket(socket: WebSocket[Any, Any, Any], ctx: ApiContext, owner: str) -> None:
    """WebSocket chat; see the module docstring for the protocol."""
    await socket.accept()
    await ChatSession(socket, ctx, owner).serve()

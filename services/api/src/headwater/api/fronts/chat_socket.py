"""WebSocket chat with human approvals (``/ws``); the full protocol is in docs/fronts.md.

Client → server::

    {"type": "message", "thread_id": "t1", "content": "cancel order 1042"}
    {"type": "interrupt_response", "thread_id": "t1", "approved": false}

Server → client: ``token`` and ``tool_call`` (each with the ``agent``: the graph node),
``interrupt`` (the interrupt's value spread into the message, plus ``interrupt_id``),
``message_complete`` and ``error``, each with the client's own ``thread_id``. Threads on one
socket are independent; runs belong to the server, so a dropped socket loses none (their
results are in the thread state). A conversation idle for ``HEADWATER_WS_SESSION_TTL_S``
expires: its thread is deleted and the message that found it so gets an ``error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import WebSocket, websocket
from litestar.di import NamedDependency
from litestar.exceptions import WebSocketDisconnect

from headwater.api.fronts.chat_messages import (
    Answer,
    Refused,
    Say,
    Turn,
    frame_size,
    interrupt_message,
    node_messages,
    parse_turn,
)
from headwater.api.fronts.events import (
    Ended,
    Idle,
    Part,
    ai_chunk,
    final_ai_message,
    interrupts_of,
    run_parts,
    text_of,
)
from headwater.api.runs.service import RunService
from headwater.api.shared.context import default_assistant
from headwater.api.shared.errors import ApiError
from headwater.api.shared.schemas import RunCreate
from headwater.api.threads.maintenance import erase_threads
from headwater.common.db.models import ThreadRow, utcnow
from headwater.common.db.repository import aware
from headwater.common.ids import is_uuid, named_thread_id
from headwater.common.telemetry.metrics import ACTIVE_STREAMS

log = logging.getLogger(__name__)
THREAD_NAMESPACE = uuid.UUID("0b6f3f2e-8d4c-4a51-9c7e-2a9d4f6e1c33")
NAME_KEY = "ws_thread_name"
"""The client's thread name: in the thread's metadata (search by it) and the run's
``config.configurable`` (the graph reads it there)."""


class ChatSession:
    """One socket: reads client messages, relays each thread's run as it streams."""

    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        runs: RunService,
        graph_ids: list[str],
        owner: str,
    ) -> None:
        self.socket = socket
        self.runs = runs
        self.graph_ids = graph_ids
        self.owner = owner
        self.sending = asyncio.Lock()
        self.relays: dict[str, asyncio.Task[None]] = {}

    def thread_id(self, name: str) -> str:
        """Client thread names map to thread ids per caller; UUIDs are used as they are."""
        if is_uuid(name):
            return name
        return named_thread_id(self.runs.settings.naming_secret, THREAD_NAMESPACE, self.owner, name)

    async def send(self, message: dict[str, Any]) -> None:
        async with self.sending:
            await self.socket.send_data(msgspec.json.encode(message).decode(), mode="text")

    async def error(self, message: str, code: str, thread_id: str | None = None) -> None:
        payload: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if thread_id is not None:
            payload["thread_id"] = thread_id
        await self.send(payload)

    async def serve(self) -> None:
        """Until the client leaves. An idle socket stays open; conversations expire."""
        ACTIVE_STREAMS.labels("websocket").inc()
        try:
            while True:
                event = await self.socket.receive()
                if event["type"] == "websocket.disconnect":
                    return
                text, data = event.get("text"), event.get("bytes")
                await self.handle(
                    text if isinstance(text, str) else data if isinstance(data, bytes) else b""
                )
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
        limit = self.runs.settings.ws_max_message_bytes
        if frame_size(raw) > limit:  # before any parsing
            await self.error(f"Message too large: the limit is {limit} bytes.", "message_too_large")
            return
        try:
            turn = parse_turn(raw)
        except Refused as refused:
            await self.error(refused.message, refused.code, refused.thread_id)
            return
        previous = self.relays.get(turn.name)
        if isinstance(turn.request, Say) and previous is not None and not previous.done():
            await self.error(
                "A run is already in progress on this thread.", "thread_busy", turn.name
            )
            return
        self.relays[turn.name] = asyncio.create_task(self.turn(turn, previous))

    async def turn(self, turn: Turn, previous: asyncio.Task[None] | None) -> None:
        """One run on a thread: after the thread's previous turn (a response may beat its end)."""
        if previous is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await previous
        thread_id = self.thread_id(turn.name)
        try:
            thread = await self.own_thread(thread_id)
            if thread is not None and self.idle_too_long(thread):
                await self.expire(turn.name, thread)
                return
            run, subscription = await self.runs.admission.start(
                self.run_body(turn, thread),
                thread_id=thread_id,
                owner=self.owner,
                headers=self.socket.headers,
            )
        except ApiError as exc:
            await self.error(exc.detail, "run_rejected", turn.name)
            return
        except Exception:
            log.exception("ws: starting a run on %s failed", turn.name)
            await self.error("The run could not be started.", "internal", turn.name)
            return
        await self.relay(turn.name, run_parts(subscription, self.runs.status_check(run.run_id)))

    def run_body(self, turn: Turn, thread: ThreadRow | None) -> RunCreate:
        """The run request: on the named assistant, else the thread's, else the default."""
        known = (thread.metadata_ or {}).get("assistant_id") if thread is not None else None
        body = RunCreate(
            assistant_id=str(
                turn.assistant_id or known or default_assistant(self.runs.settings, self.graph_ids)
            )
        )
        match turn.request:
            case Say(content=content):
                body.input = {"messages": [{"role": "user", "content": content}]}
            case Answer(resume=resume):
                body.command = {"resume": resume}
        body.metadata = {NAME_KEY: turn.name}  # a new thread keeps it: searchable by name
        body.config = {"configurable": {NAME_KEY: turn.name}}
        body.stream_mode = ["messages-tuple", "updates"]
        body.if_not_exists = "create"
        body.multitask_strategy = "reject"
        return body

    async def own_thread(self, thread_id: str) -> ThreadRow | None:
        async with self.runs.sessions() as session:
            thread = await session.get(ThreadRow, thread_id)
        if thread is None or thread.owner != self.owner or thread.deleting:
            return None
        return thread

    def idle_too_long(self, thread: ThreadRow) -> bool:
        """A /ws conversation (its thread carries the name) with no run in flight whose last
        activity is at least the TTL ago. Threads made elsewhere keep their own lifetime."""
        if NAME_KEY not in (thread.metadata_ or {}) or thread.status == "busy":
            return False
        idle = (utcnow() - aware(thread.updated_at)).total_seconds()
        return idle >= self.runs.settings.ws_session_ttl_s

    async def expire(self, name: str, thread: ThreadRow) -> None:
        """Delete the conversation's thread (a pending approval lapses unapproved) and say so."""
        ttl = self.runs.settings.ws_session_ttl_s
        try:
            await erase_threads(self.runs, [thread], self.owner)
        except ApiError as exc:  # marked for deletion: a retry of the delete finishes it
            log.warning("ws: expired thread %s could not be deleted: %s", thread.thread_id, exc)
        await self.error(
            f"Conversation expired: idle for {ttl:g} s or more, so it was ended and its "
            "thread deleted. Send the message again to start a new conversation.",
            "session_expired",
            name,
        )

    async def relay(self, name: str, parts: AsyncIterator[Part | Idle | Ended]) -> None:
        waiting = False
        async for part in parts:
            if isinstance(part, Ended):
                await self.finish(name, part, waiting)
                return
            if not isinstance(part, Part):
                continue
            if (chunk := ai_chunk(part)) is not None:
                text = text_of(chunk.get("content"))
                if text:
                    meta = part.data[1] if len(part.data) > 1 else None
                    agent = meta.get("langgraph_node") if isinstance(meta, dict) else None
                    await self.send(
                        {"type": "token", "thread_id": name, "content": text, "agent": agent}
                    )
            elif part.event == "updates":
                for node, message in node_messages(part):
                    for call in message.get("tool_calls") or []:
                        await self.send(
                            {
                                "type": "tool_call",
                                "thread_id": name,
                                "tool": call.get("name"),
                                "args": call.get("args"),
                                "agent": node,
                            }
                        )
                for pending in interrupts_of(part):
                    waiting = True
                    await self.send(interrupt_message(name, pending))

    async def finish(self, name: str, end: Ended, waiting: bool) -> None:
        if end.status == "success" and not waiting:
            final = final_ai_message(end.result) or {}
            await self.send(
                {
                    "type": "message_complete",
                    "thread_id": name,
                    "content": text_of(final.get("content")),
                }
            )
        elif end.status == "error":
            error = (end.result or {}).get("__error__", {}) if isinstance(end.result, dict) else {}
            await self.error(error.get("message") or "The run failed.", "run_failed", name)
        elif end.status == "interrupted":
            await self.error("The run was cancelled.", "run_cancelled", name)


@websocket("/ws")
async def chat_socket(
    socket: WebSocket[Any, Any, Any],
    runs: NamedDependency[RunService],
    graph_ids: NamedDependency[list[str]],
    owner: NamedDependency[str],
) -> None:
    """WebSocket chat; see the module docstring for the protocol."""
    await socket.accept()
    await ChatSession(socket, runs, graph_ids, owner).serve()

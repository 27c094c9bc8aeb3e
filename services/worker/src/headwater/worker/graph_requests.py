"""Answers to the API's graph questions (state, history, state updates): the API loads no user code."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import msgspec
from langchain_core.runnables import RunnableConfig
from langgraph.errors import InvalidUpdateError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.common.bus import Bus
from headwater.common.codec import dumps, loads
from headwater.common.db import repository
from headwater.common.db.models import ThreadRow
from headwater.common.schemas import GraphReply, GraphRequest, encoder, graph_request_decoder
from headwater.common.subjects import THREAD_LEVEL
from headwater.worker.registry import GraphRegistry, UnknownGraphError
from headwater.worker.savers import ThreadSaver
from headwater.worker.state import thread_interrupts, thread_state

log = logging.getLogger(__name__)


def _reply(body: Any) -> bytes:
    return encoder.encode(GraphReply(status=200, body=msgspec.Raw(dumps(body))))


def _error(status: int, detail: str) -> bytes:
    return encoder.encode(GraphReply(status=status, detail=detail))


class GraphRequestHandler:
    """Decodes a GraphRequest, answers it with a GraphReply."""

    def __init__(
        self,
        registry: GraphRegistry,
        sessions: async_sessionmaker[AsyncSession],
        bus: Bus,
        saver: ThreadSaver,
    ) -> None:
        self.registry = registry
        self.sessions = sessions
        self.bus = bus
        self.saver = saver

    async def __call__(self, payload: bytes, headers: Mapping[str, str]) -> bytes:
        try:
            request = graph_request_decoder.decode(payload)
        except msgspec.ValidationError as exc:
            return _error(400, str(exc))
        for thread_id in [request.thread_id, *request.thread_ids]:
            if thread_id and not await self._owned(thread_id, request.owner):
                return _error(404, f"Thread with ID {thread_id} not found")
        try:
            if request.op == "copy" and request.target_thread_id:
                await self.saver.acopy_thread(request.thread_id, request.target_thread_id)
                return _reply({"thread_id": request.target_thread_id})
            if request.op == "prune":
                await self.saver.aprune(request.thread_ids, strategy=request.strategy)
                return _reply({"pruned": len(request.thread_ids)})
            if request.op == "history":
                return _reply(await self.history(request))
            if request.op == "update_state":
                return _reply(await self.update_state(request))
            if request.op in ("graph", "schemas", "subgraphs"):
                return _reply(await self.describe(request))
            return _reply(await self.state(request))
        except UnknownGraphError:
            return _error(404, f"Graph '{request.graph_id}' not found")
        except (InvalidUpdateError, ValueError, KeyError) as exc:
            return _error(400, f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            log.exception("graph request failed")
            return _error(500, f"{type(exc).__name__}: {exc}")

    async def _owned(self, thread_id: str, owner: str) -> bool:
        """Workers enforce ownership too: a request names its owner, the thread must be theirs."""
        async with self.sessions() as session:
            thread = await session.get(ThreadRow, thread_id)
        return thread is not None and thread.owner == owner

    @staticmethod
    def _config(request: GraphRequest, checkpoint_id: str | None) -> RunnableConfig:
        configurable: dict[str, Any] = {
            "thread_id": request.thread_id,
            "checkpoint_ns": request.checkpoint_ns,
        }
        if checkpoint_id:
            configurable["checkpoint_id"] = checkpoint_id
        return {"configurable": configurable}

    async def state(self, request: GraphRequest) -> dict[str, Any]:
        graph = await self.registry.get(request.graph_id)
        snapshot = await graph.aget_state(
            self._config(request, request.checkpoint_id), subgraphs=request.subgraphs
        )
        return thread_state(snapshot)

    async def history(self, request: GraphRequest) -> list[dict[str, Any]]:
        graph = await self.registry.get(request.graph_id)
        before = self._config(request, request.before) if request.before else None
        states = []
        async for snapshot in graph.aget_state_history(
            self._config(request, request.checkpoint_id),
            filter=request.metadata or None,
            before=before,
            limit=request.limit,
        ):
            states.append(thread_state(snapshot))
        return states

    async def update_state(self, request: GraphRequest) -> dict[str, Any]:
        graph = await self.registry.get(request.graph_id)
        config = await graph.aupdate_state(
            self._config(request, request.checkpoint_id), request.values, as_node=request.as_node
        )
        snapshot = await graph.aget_state({"configurable": {"thread_id": request.thread_id}})
        async with self.sessions.begin() as session:
            await repository.record_thread_state(
                session,
                thread_id=request.thread_id,
                values=loads(dumps(snapshot.values)),
                interrupts=thread_interrupts(snapshot),
                status="interrupted" if snapshot.next else "idle",
            )
        update = {"state": thread_state(snapshot), "thread_id": request.thread_id}
        await self.bus.publish_event(request.thread_id, THREAD_LEVEL, "state_update", dumps(update))
        conf = config["configurable"]
        checkpoint = {
            "thread_id": conf["thread_id"],
            "checkpoint_ns": conf.get("checkpoint_ns", ""),
            "checkpoint_id": conf["checkpoint_id"],
        }
        return {
            "checkpoint": checkpoint,
            "configurable": checkpoint,
            "checkpoint_id": conf["checkpoint_id"],
        }

    async def describe(self, request: GraphRequest) -> Any:
        """The graph's drawing, its JSON schemas, or its subgraphs' schemas."""
        graph = await self.registry.get(request.graph_id)
        if request.op == "graph":
            return graph.get_graph(xray=request.xray).to_json()
        if request.op == "schemas":
            return {"graph_id": request.graph_id, **schemas_of(graph)}
        return {
            namespace: schemas_of(subgraph)
            for namespace, subgraph in graph.get_subgraphs(
                namespace=request.namespace, recurse=request.recurse
            )
        }


def schemas_of(graph: Any) -> dict[str, Any]:
    """Input, output, state, config and context JSON schemas (None where unavailable)."""
    out: dict[str, Any] = {}
    for key, getter in (
        ("input_schema", "get_input_jsonschema"),
        ("output_schema", "get_output_jsonschema"),
        ("context_schema", "get_context_jsonschema"),
    ):
        try:
            out[key] = getattr(graph, getter)()
        except Exception:  # noqa: BLE001 - a schema that cannot be derived is reported as null
            out[key] = None
    try:
        out["state_schema"] = (
            graph.get_output_jsonschema() if not hasattr(graph, "builder") else _state_schema(graph)
        )
    except Exception:  # noqa: BLE001
        out["state_schema"] = None
    out["config_schema"] = out["context_schema"]
    return out


def _state_schema(graph: Any) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(graph.builder.state_schema).json_schema()

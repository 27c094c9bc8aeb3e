"""Answers to the API's graph questions (thread state), so the API loads no user code."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import msgspec

from headwater.common.codec import dumps
from headwater.common.schemas import GraphReply, encoder, graph_request_decoder
from headwater.worker.registry import GraphRegistry, UnknownGraphError
from headwater.worker.state import thread_state

log = logging.getLogger(__name__)


class GraphRequestHandler:
    """Decodes a GraphRequest, answers it with a GraphReply."""

    def __init__(self, registry: GraphRegistry) -> None:
        self.registry = registry

    async def __call__(self, payload: bytes, headers: Mapping[str, str]) -> bytes:
        try:
            request = graph_request_decoder.decode(payload)
        except msgspec.ValidationError as exc:
            return encoder.encode(GraphReply(status=400, detail=str(exc)))
        try:
            graph = await self.registry.get(request.graph_id)
            configurable = {"thread_id": request.thread_id, "checkpoint_ns": ""}
            if request.checkpoint_id:
                configurable["checkpoint_id"] = request.checkpoint_id
            snapshot = await graph.aget_state(
                {"configurable": configurable}, subgraphs=request.subgraphs
            )
            return encoder.encode(
                GraphReply(status=200, body=msgspec.Raw(dumps(thread_state(snapshot))))
            )
        except UnknownGraphError:
            return encoder.encode(
                GraphReply(status=404, detail=f"Graph '{request.graph_id}' not found")
            )
        except Exception as exc:
            log.exception("graph request failed")
            return encoder.encode(GraphReply(status=500, detail=f"{type(exc).__name__}: {exc}"))

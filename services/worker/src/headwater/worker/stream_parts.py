"""Turning LangGraph stream parts into SSE event names and data bytes, once, in the worker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from headwater.common.codec import dumps

# Request names → LangGraph stream modes. "messages-tuple" is LangGraph's "messages".
_MODE_FOR_REQUEST = {
    "values": "values",
    "updates": "updates",
    "messages-tuple": "messages",
    "messages": "messages",
    "custom": "custom",
    "debug": "debug",
    "tasks": "tasks",
    "checkpoints": "checkpoints",
}
SUPPORTED_STREAM_MODES = frozenset(_MODE_FOR_REQUEST)


def graph_stream_modes(requested: Sequence[str]) -> list[str]:
    """The LangGraph ``stream_mode`` list for the modes a client asked for."""
    modes: list[str] = []
    for name in requested:
        mode = _MODE_FOR_REQUEST.get(name)
        if mode is not None and mode not in modes:
            modes.append(mode)
    return modes or ["values"]


class PartEncoder:
    """Encodes the parts of one run; keeps the state legacy ``messages`` mode needs."""

    def __init__(self, requested: Sequence[str]) -> None:
        self.legacy_messages = "messages" in requested and "messages-tuple" not in requested
        self._seen: dict[str, Any] = {}
        self._metadata: Any = None
        self._metadata_json = b""
        self._metadata_len = -1

    def encode(self, namespace: Sequence[str], mode: str, chunk: Any) -> list[tuple[str, bytes]]:
        """SSE ``(event, data)`` pairs for one LangGraph stream part."""
        suffix = "".join("|" + part for part in namespace) if namespace else ""
        if mode == "messages":
            if self.legacy_messages:
                return self._legacy(suffix, chunk)
            return [("messages" + suffix, self._message_tuple(chunk))]
        return [(mode + suffix, dumps(chunk))]

    def _message_tuple(self, chunk: Any) -> bytes:
        """``dumps((message, metadata))``, with the metadata's JSON made once per LLM call.

        LangGraph hands every token of one model call the same metadata dict (~20 keys,
        most of the ~1 KB of a token event); its bytes are spliced after the message's.
        """
        message, metadata = chunk
        if metadata is not self._metadata or len(metadata) != self._metadata_len:
            self._metadata = metadata
            self._metadata_len = len(metadata)
            self._metadata_json = dumps(metadata)
        return b"[" + dumps(message) + b"," + self._metadata_json + b"]"

    def _legacy(self, suffix: str, chunk: Any) -> list[tuple[str, bytes]]:
        message, metadata = chunk
        out: list[tuple[str, bytes]] = []
        msg_id = getattr(message, "id", None) or ""
        previous = self._seen.get(msg_id)
        if previous is None:
            out.append(("messages/metadata" + suffix, dumps({msg_id: {"metadata": metadata}})))
        is_chunk = type(message).__name__.endswith("Chunk")
        if is_chunk:
            merged = message if previous is None else previous + message
            self._seen[msg_id] = merged
            out.append(("messages/partial" + suffix, dumps([_as_message(merged)])))
        else:
            self._seen[msg_id] = message
            out.append(("messages/complete" + suffix, dumps([message])))
        return out


def _as_message(chunk: Any) -> Any:
    from langchain_core.messages import message_chunk_to_message

    return message_chunk_to_message(chunk)

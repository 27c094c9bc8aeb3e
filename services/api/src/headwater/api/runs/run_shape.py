"""What a run request becomes: its stream modes, config, context and start checkpoint, and
the assistant it runs. Pure functions (and one lookup) shared by run and cron admission."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from headwater.api.shared.errors import NotFound, Unprocessable
from headwater.api.shared.schemas import RunCreate
from headwater.common.db.models import AssistantRow, ThreadRow
from headwater.common.ids import assistant_id_for_graph, is_uuid

STREAM_MODES = frozenset(
    {
        "values",
        "updates",
        "messages",
        "messages-tuple",
        "custom",
        "debug",
        "tasks",
        "checkpoints",
        "events",
    }
)
RESERVED_CONFIGURABLE = frozenset(
    {
        "langgraph_auth_user",
        "langgraph_auth_user_id",
        "langgraph_auth_permissions",
        "langgraph_request_id",
        "__request_start_time_ms__",
        "__after_seconds__",
        "__otel_traceparent__",
        "__otel_tracestate__",
    }
)
MAX_AFTER_SECONDS = 30 * 86400.0
CHECKPOINT_KEYS = frozenset({"checkpoint_id", "checkpoint_ns", "checkpoint_map"})
EXCLUDED_HEADERS = frozenset({"x-api-key", "x-tenant-id", "x-service-key"})


def configurable_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """``x-*`` headers and ``user-agent`` go into ``config.configurable`` as langgraph-api does."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        if (lower.startswith("x-") and lower not in EXCLUDED_HEADERS) or lower == "user-agent":
            out[lower] = value
    return out


async def resolve_assistant(
    session: AsyncSession, graph_ids: list[str], assistant_id: str
) -> AssistantRow:
    """An assistant by UUID or by graph name."""
    if not is_uuid(assistant_id):
        if assistant_id not in graph_ids:
            raise Unprocessable(
                f"Invalid assistant: '{assistant_id}'. Must be either a UUID or one of the registered graphs: {graph_ids}"
            )
        assistant_id = assistant_id_for_graph(assistant_id)
    row = await session.get(AssistantRow, assistant_id)
    if row is None:
        raise NotFound("Thread or assistant not found.")
    return row


def stream_modes(body: RunCreate) -> list[str]:
    """The requested stream modes as a list; unknown modes are a 422."""
    modes = [body.stream_mode] if isinstance(body.stream_mode, str) else list(body.stream_mode)
    unknown = [m for m in modes if m not in STREAM_MODES]
    if unknown:
        raise Unprocessable(
            f"Invalid stream_mode {unknown}: expected any of {sorted(STREAM_MODES)}"
        )
    return modes or ["values"]


def start_checkpoint(body: RunCreate) -> dict[str, Any]:
    """Where in its thread the run starts: only ``checkpoint_id``, ``checkpoint_ns`` and
    ``checkpoint_map`` (a ``thread_id`` in there would point the run at another thread)."""
    checkpoint = {
        k: v for k, v in (body.checkpoint or {}).items() if k in CHECKPOINT_KEYS and v is not None
    }
    if body.checkpoint_id:
        checkpoint["checkpoint_id"] = body.checkpoint_id
    for key in ("checkpoint_id", "checkpoint_ns"):
        if key in checkpoint and not isinstance(checkpoint[key], str):
            raise Unprocessable(f"checkpoint.{key} must be a string")
    if "checkpoint_map" in checkpoint and not isinstance(checkpoint["checkpoint_map"], dict):
        raise Unprocessable("checkpoint.checkpoint_map must be an object")
    return checkpoint


def merged_config(
    assistant: AssistantRow, thread: ThreadRow, body: RunCreate, headers: dict[str, str]
) -> dict[str, Any]:
    request_config = dict(body.config or {})
    configurable = {
        **(assistant.config or {}).get("configurable", {}),
        **(thread.config or {}).get("configurable", {}),
        **headers,
        **{
            k: v
            for k, v in (body.context or request_config.get("configurable", {})).items()
            if k not in RESERVED_CONFIGURABLE  # the request's context is mirrored, as upstream
        },
    }
    config = {**(assistant.config or {}), **(thread.config or {}), **request_config}
    config["configurable"] = configurable
    return config


def run_context(assistant: AssistantRow, body: RunCreate) -> dict[str, Any]:
    """The run's runtime context as langgraph-api merges it: the assistant's ``context``
    under the request's (its ``context``, else its ``config.configurable``)."""
    requested = body.context or {
        k: v
        for k, v in ((body.config or {}).get("configurable") or {}).items()
        if k not in RESERVED_CONFIGURABLE
    }
    return {**(assistant.context or {}), **requested}

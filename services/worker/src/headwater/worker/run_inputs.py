"""What a run request becomes for LangGraph: its ``RunnableConfig`` and its input."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

from headwater.common.schemas import RunRequest

LANGGRAPH_VERSION = version("langgraph")
CHECKPOINT_KEYS = frozenset({"checkpoint_id", "checkpoint_ns", "checkpoint_map"})
"""What a run's ``checkpoint`` may say: where in its own thread to start."""


def run_config(request: RunRequest, attempt: int) -> RunnableConfig:
    """The RunnableConfig of a run, with the keys langgraph-api injects."""
    config: dict[str, Any] = dict(request.config)
    start = {
        k: v
        for k, v in (request.checkpoint or {}).items()
        if k in CHECKPOINT_KEYS and v is not None
    }
    configurable = {  # the run's own identity last: no input may point it at another thread
        **config.get("configurable", {}),
        **start,
        "run_id": request.run_id,
        "thread_id": request.thread_id,
        "graph_id": request.graph_id,
        "assistant_id": request.assistant_id,
        "user_id": request.owner,
        "langgraph_auth_user_id": request.owner,
    }
    metadata = {
        **config.get("metadata", {}),
        **request.metadata,
        "graph_id": request.graph_id,
        "assistant_id": request.assistant_id,
        "run_attempt": attempt,
        "langgraph_version": LANGGRAPH_VERSION,
        "thread_id": request.thread_id,
        "run_id": request.run_id,
    }
    config["configurable"] = configurable
    config["metadata"] = metadata
    return config  # type: ignore[return-value]


def graph_input(request: RunRequest) -> Any:
    """The input, or a ``Command`` for resume/update/goto."""
    if request.command:
        cmd = request.command
        return Command(
            resume=cmd.get("resume"), update=cmd.get("update"), goto=cmd.get("goto") or ()
        )
    return request.input

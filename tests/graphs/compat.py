"""Test graphs for what langgraph-api hands a graph: runtime context and graph factories.

- ``context_graph``: a ``context_schema`` with defaults; its node reports the context it got,
  the run's ``configurable`` and ``metadata``, and the config's tags and recursion limit.
- ``context_manager_graph``: an ``@asynccontextmanager`` factory taking the config. It writes
  ``enter <run_id>`` and ``exit <run_id>`` lines to ``configurable.factory_log``; the node
  reports whether the factory's resource was open while it ran.
- ``runtime_graph``: a factory taking ``(config, runtime: ServerRuntime)``; the node reports
  the runtime's access context, its execution context and the config's ``run_id``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_config
from langgraph.graph import END, START, StateGraph
from langgraph.pregel import Pregel
from langgraph.runtime import Runtime
from langgraph_sdk.runtime import ServerRuntime
from typing_extensions import TypedDict


@dataclass
class ModelContext:
    model: str = "default-model"
    temperature: float = 0.5


class SeenState(TypedDict, total=False):
    seen: dict[str, Any]


def _plain(context: Any) -> Any:
    if context is None:
        return None
    if is_dataclass(context) and not isinstance(context, type):
        return {"type": type(context).__name__, **asdict(context)}
    return context


def show_context(state: SeenState, runtime: Runtime[ModelContext]) -> dict[str, Any]:
    config = get_config()
    configurable = {k: v for k, v in config["configurable"].items() if not k.startswith("__")}
    return {
        "seen": {
            "context": _plain(runtime.context),
            "configurable": {k: v for k, v in configurable.items() if isinstance(v, str | int)},
            "metadata": {
                k: v for k, v in config.get("metadata", {}).items() if isinstance(v, str | int)
            },
            "tags": config.get("tags", []),
            "recursion_limit": config.get("recursion_limit"),
        }
    }


_context_builder = StateGraph(SeenState, context_schema=ModelContext)
_context_builder.add_node("show", show_context)
_context_builder.add_edge(START, "show")
_context_builder.add_edge("show", END)
context_graph = _context_builder.compile(name="context")


class FactoryState(TypedDict, total=False):
    resource_open: bool
    factory: dict[str, Any]


def _log(config: RunnableConfig, line: str) -> None:
    path = (config.get("configurable") or {}).get("factory_log")
    if path:
        with Path(path).open("a") as out:
            out.write(line + "\n")


@contextlib.asynccontextmanager
async def context_manager_graph(
    config: RunnableConfig,
) -> AsyncIterator[Pregel[Any, Any, Any, Any]]:
    """Opens a resource for the run and closes it after, like an MCP client."""
    run_id = (config.get("configurable") or {}).get("run_id", "?")
    resource = {"open": True}

    def use(state: FactoryState) -> dict[str, Any]:
        return {"resource_open": resource["open"]}

    builder = StateGraph(FactoryState)
    builder.add_node("use", use)
    builder.add_edge(START, "use")
    builder.add_edge("use", END)
    _log(config, f"enter {run_id}")
    try:
        yield builder.compile(name="context_manager")
    finally:
        resource["open"] = False
        _log(config, f"exit {run_id}")


def runtime_graph(config: RunnableConfig, runtime: ServerRuntime) -> Pregel[Any, Any, Any, Any]:
    """A factory given the server runtime as well as the config."""
    execution = runtime.execution_runtime
    report = {
        "access_context": runtime.access_context,
        "context": _plain(execution.context) if execution is not None else None,
        "run_id": (config.get("configurable") or {}).get("run_id"),
        "has_store": runtime.store is not None,
    }

    def use(state: FactoryState) -> dict[str, Any]:
        return {"factory": report}

    builder = StateGraph(FactoryState)
    builder.add_node("use", use)
    builder.add_edge(START, "use")
    builder.add_edge("use", END)
    return builder.compile(name="runtime_factory")

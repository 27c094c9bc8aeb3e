"""The user's graphs, imported from langgraph.json and bound to the checkpointer."""

from __future__ import annotations

import inspect
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.pregel import Pregel
from langgraph.store.base import BaseStore

from headwater.common.graph_config import ProjectConfig, import_attribute


class UnknownGraphError(LookupError):
    """No graph with that id is served."""


class GraphRegistry:
    """Compiled graphs (or graph factories) by graph id."""

    def __init__(
        self,
        project: ProjectConfig,
        checkpointer: BaseCheckpointSaver[str],
        store: BaseStore | None = None,
    ) -> None:
        self.project = project
        self.checkpointer = checkpointer
        self.store = store
        self._objects: dict[str, Any] = {
            gid: import_attribute(spec) for gid, spec in project.graphs.items()
        }
        self._bound: dict[str, Pregel[Any, Any, Any, Any]] = {}

    @property
    def graph_ids(self) -> list[str]:
        """Served graph ids."""
        return list(self._objects)

    async def get(
        self, graph_id: str, config: RunnableConfig | None = None
    ) -> Pregel[Any, Any, Any, Any]:
        """The graph bound to the checkpointer; factories ``graph(config)`` are called."""
        bound = self._bound.get(graph_id)
        if bound is not None:
            return bound
        try:
            obj = self._objects[graph_id]
        except KeyError as exc:
            raise UnknownGraphError(graph_id) from exc
        static = isinstance(obj, Pregel)
        if not isinstance(obj, Pregel) and callable(obj):
            obj = obj(config or {}) if _takes_argument(obj) else obj()
            if inspect.isawaitable(obj):
                obj = await obj
        if hasattr(obj, "compile") and not isinstance(obj, Pregel):
            obj = obj.compile()
        if not isinstance(obj, Pregel):
            raise TypeError(f"graph {graph_id!r} is not a LangGraph graph: {type(obj).__name__}")
        update: dict[str, Any] = {"checkpointer": self.checkpointer}
        if self.store is not None:
            update["store"] = self.store
        bound = obj.copy(update=update)
        if static:  # compiled graphs are shared; factories are called per run
            self._bound[graph_id] = bound
        return bound


def _takes_argument(func: Any) -> bool:
    try:
        return len(inspect.signature(func).parameters) > 0
    except (TypeError, ValueError):
        return False

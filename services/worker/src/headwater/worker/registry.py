"""The user's graphs, imported from langgraph.json and bound to the checkpointer.

A graph is a compiled graph, a ``StateGraph`` (compiled here), or a factory called for each
use. Factories take what langgraph-api gives them: nothing, the run's ``config``, a
``ServerRuntime`` (a parameter annotated so, or named ``runtime``), or both; they return the
graph, a coroutine of it, or a (sync or async) context manager yielding it, which stays
entered while the graph is used (for a run: until the run has finished).
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import typing
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.pregel import Pregel
from langgraph.store.base import BaseStore
from langgraph_sdk.runtime import AccessContext, ServerRuntime, _ExecutionRuntime, _ReadRuntime

from headwater.common.graph_config import ProjectConfig, import_attribute

RUNTIME_CLASSES = (_ExecutionRuntime, _ReadRuntime)
FactoryArguments = Callable[[RunnableConfig, Any], dict[str, Any]]
"""Given the config and the runtime, the keyword arguments a factory is called with."""


class UnknownGraphError(LookupError):
    """No graph with that id is served."""


@dataclass(frozen=True)
class RunUser:
    """The run's user as a factory's ``runtime.user`` sees it (langgraph-sdk's BaseUser)."""

    identity: str
    permissions: Sequence[str] = field(default_factory=tuple)
    is_authenticated: bool = True

    @property
    def display_name(self) -> str:
        """The identity: the worker knows no other name."""
        return self.identity

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in ("identity", "permissions", "is_authenticated", "display_name")

    def __iter__(self) -> Iterator[str]:
        return iter(("identity", "permissions", "is_authenticated", "display_name"))


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
        self._factories: dict[str, FactoryArguments] = {
            gid: factory_arguments(obj)
            for gid, obj in self._objects.items()
            if callable(obj) and not isinstance(obj, Pregel)
        }
        self._bound: dict[str, Pregel[Any, Any, Any, Any]] = {}

    @property
    def graph_ids(self) -> list[str]:
        """Served graph ids."""
        return list(self._objects)

    @contextlib.asynccontextmanager
    async def open(
        self,
        graph_id: str,
        config: RunnableConfig | None = None,
        *,
        access: AccessContext = "threads.create_run",
        context: Any = None,
        user_id: str = "",
    ) -> AsyncIterator[Pregel[Any, Any, Any, Any]]:
        """The graph for one use, bound to the checkpointer and the store.

        A factory is called now; a context manager it returns is left when the block ends.
        """
        bound = self._bound.get(graph_id)
        if bound is not None:
            yield bound
            return
        try:
            obj = self._objects[graph_id]
        except KeyError as exc:
            raise UnknownGraphError(graph_id) from exc
        arguments = self._factories.get(graph_id)
        if arguments is not None:
            runtime = self._runtime(access, context, user_id)
            obj = obj(**arguments(config or {}, runtime))
        async with _entered(obj) as made:
            graph = self._bind(graph_id, made)
            if arguments is None:  # compiled graphs are shared; factories are called per use
                self._bound[graph_id] = graph
            yield graph

    async def get(
        self, graph_id: str, config: RunnableConfig | None = None
    ) -> Pregel[Any, Any, Any, Any]:
        """The graph for reading (state, schemas, drawings): a factory's context manager is
        entered and left at once, since nothing of the graph runs."""
        async with self.open(graph_id, config, access="threads.read") as graph:
            return graph

    def _runtime(self, access: AccessContext, context: Any, user_id: str) -> Any:
        user = RunUser(user_id) if user_id else None
        store: Any = self.store
        if access == "threads.create_run":
            return _ExecutionRuntime(
                access_context=access, user=user, store=store, context=copy.copy(context)
            )
        return _ReadRuntime(access_context=access, user=user, store=store)

    def _bind(self, graph_id: str, obj: Any) -> Pregel[Any, Any, Any, Any]:
        if hasattr(obj, "compile") and not isinstance(obj, Pregel):
            obj = obj.compile()
        if not isinstance(obj, Pregel):
            raise TypeError(f"graph {graph_id!r} is not a LangGraph graph: {type(obj).__name__}")
        update: dict[str, Any] = {"checkpointer": self.checkpointer}
        if self.store is not None:
            update["store"] = self.store
        return obj.copy(update=update)


@contextlib.asynccontextmanager
async def _entered(value: Any) -> AsyncIterator[Any]:
    """What a factory made: awaited if a coroutine, entered if a context manager."""
    if inspect.isawaitable(value):
        value = await value
    if hasattr(value, "__aenter__") and hasattr(value, "__aexit__"):
        async with value as entered:
            yield entered
    elif hasattr(value, "__enter__") and hasattr(value, "__exit__"):
        with value as entered:
            yield entered
    else:
        yield value


def factory_arguments(factory: Callable[..., Any]) -> FactoryArguments:
    """How to call a graph factory, from its signature (as langgraph-api classifies them).

    One parameter is the config unless annotated ``ServerRuntime``; of two, the runtime is the
    one annotated so (or else the one named ``runtime``) and the other the config.
    """
    try:
        params = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):  # a callable without a signature: call it bare
        return lambda config, runtime: {}
    try:
        hints = typing.get_type_hints(
            factory, localns={"ServerRuntime": ServerRuntime, "RunnableConfig": RunnableConfig}
        )
    except Exception:  # noqa: BLE001 - unresolvable annotations: fall back to the raw ones
        hints = {}
    runtime_at = [i for i, p in enumerate(params) if _is_runtime(hints.get(p.name, p.annotation))]
    if not params:
        return lambda config, runtime: {}
    if len(params) == 1:
        name = params[0].name
        if runtime_at:
            return lambda config, runtime: {name: runtime}
        return lambda config, runtime: {name: config}
    if len(params) == 2:
        if len(runtime_at) != 1:
            runtime_at = [i for i, p in enumerate(params) if p.name == "runtime"]
        if len(runtime_at) == 1:
            runtime_name = params[runtime_at[0]].name
            config_name = params[1 - runtime_at[0]].name
            return lambda config, runtime: {runtime_name: runtime, config_name: config}
        raise TypeError(
            f"graph factory {factory!r} takes two arguments: one must be a ServerRuntime "
            "(annotated so, or named 'runtime') and the other the config"
        )
    raise TypeError(
        f"graph factory {factory!r} must take 0, 1 or 2 arguments (config and/or runtime), "
        f"not {[p.name for p in params]}"
    )


def _is_runtime(annotation: Any) -> bool:
    """Whether an annotation names langgraph-sdk's ServerRuntime (bare, generic, Annotated)."""
    if annotation is inspect.Parameter.empty:
        return False
    if annotation is ServerRuntime:
        return True
    if isinstance(annotation, type):
        return issubclass(annotation, RUNTIME_CLASSES)
    origin = get_origin(annotation)
    if origin is ServerRuntime:
        return True
    args = get_args(annotation)
    return origin is typing.Annotated and bool(args) and _is_runtime(args[0])

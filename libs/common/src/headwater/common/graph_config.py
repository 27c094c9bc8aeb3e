"""Reading a ``langgraph.json`` as LangGraph projects write it.

Only the description lives here; importing the graph objects is the worker's business
(the API holds no user code).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
from dotenv import dotenv_values


class GraphSpec(msgspec.Struct, frozen=True):
    """One ``"graphs"`` entry: ``"./path/to/file.py:attribute"`` (or ``module:attr``)."""

    graph_id: str
    location: str
    attribute: str
    base_dir: str
    dependencies: tuple[str, ...] = ()
    """langgraph.json's ``"dependencies"``, named when an import fails."""

    @property
    def is_file(self) -> bool:
        """Whether ``location`` is a file path rather than a dotted module."""
        return self.location.endswith(".py") or "/" in self.location


class ProjectConfig(msgspec.Struct, frozen=True):
    """What Headwater reads from a ``langgraph.json``."""

    path: str
    graphs: dict[str, GraphSpec]
    env: dict[str, str]
    raw: dict[str, Any]


class ConfigError(ValueError):
    """The langgraph.json is missing or malformed."""


def load_project(path: str | os.PathLike[str]) -> ProjectConfig:
    """Parse a langgraph.json; ``env`` may be a mapping or the path of a .env file."""
    file = Path(path).resolve()
    try:
        raw = msgspec.json.decode(file.read_bytes())
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {file}") from exc
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{file} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("graphs"), dict) or not raw["graphs"]:
        raise ConfigError(f'{file}: expected an object with a non-empty "graphs" mapping')
    base = file.parent
    dependencies = raw.get("dependencies") or []
    if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
        raise ConfigError(f'{file}: "dependencies" must be a list of strings')
    graphs: dict[str, GraphSpec] = {}
    for graph_id, entry in raw["graphs"].items():
        target = entry.get("path") if isinstance(entry, dict) else entry
        if not isinstance(target, str) or ":" not in target:
            raise ConfigError(f'{file}: graph "{graph_id}" must be "path/to/file.py:attribute"')
        location, attribute = target.rsplit(":", 1)
        graphs[graph_id] = GraphSpec(graph_id, location, attribute, str(base), tuple(dependencies))
    return ProjectConfig(
        path=str(file), graphs=graphs, env=_read_env(raw.get("env"), base), raw=raw
    )


def _read_env(env: Any, base: Path) -> dict[str, str]:
    if env is None:
        return {}
    if isinstance(env, dict):
        return {str(k): str(v) for k, v in env.items()}
    if isinstance(env, str):
        env_file = (base / env).resolve()
        if not env_file.exists():
            return {}
        # python-dotenv's parser: quotes, escapes, ``export``, comments, as `langgraph dev` reads it
        parsed = dotenv_values(env_file, interpolate=False)
        return {key: value for key, value in parsed.items() if value is not None}
    raise ConfigError('"env" must be an object or the path of a .env file')


def apply_env(project: ProjectConfig) -> None:
    """Export the project's ``env`` without overriding variables already set."""
    for key, value in project.env.items():
        os.environ.setdefault(key, value)


def import_attribute(spec: GraphSpec) -> Any:
    """Import the object a graph entry points at.

    Every failure is a one-line :class:`ConfigError` naming the graph and its file: a path
    that does not exist, a module that is not installed (with langgraph.json's
    ``"dependencies"``), or the exception the file raised and where.
    """
    module = _import_module(spec)
    try:
        return getattr(module, spec.attribute)
    except AttributeError as exc:
        raise ConfigError(
            f'graph "{spec.graph_id}": {spec.location} has no attribute {spec.attribute!r}'
        ) from exc


def _import_module(spec: GraphSpec) -> ModuleType:
    label = f"graph {spec.graph_id!r} ({spec.location})"
    if not spec.is_file:
        module: ModuleType = _guarded(
            label, spec, lambda: importlib.import_module(spec.location), None
        )
        return module
    file = (Path(spec.base_dir) / spec.location).resolve()
    if not file.is_file():
        raise ConfigError(
            f"graph {spec.graph_id!r}: file not found: {file} "
            f"({spec.location!r} in {Path(spec.base_dir) / 'langgraph.json'})"
        )
    name = f"headwater_graph_{spec.graph_id}_{abs(hash(str(file)))}"
    if name in sys.modules:
        return sys.modules[name]
    if str(file.parent) not in sys.path:
        sys.path.insert(0, str(file.parent))
    module_spec = importlib.util.spec_from_file_location(name, file)
    if module_spec is None or module_spec.loader is None:
        raise ConfigError(f'graph "{spec.graph_id}": cannot import {file}')
    loader = module_spec.loader
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        _guarded(label, spec, lambda: loader.exec_module(module), file)
    except ConfigError:
        sys.modules.pop(name, None)
        raise
    return module


def _guarded(label: str, spec: GraphSpec, load: Any, file: Path | None) -> Any:
    """Run ``load``; turn what the user's code raises into one line saying what to fix."""
    try:
        return load()
    except ModuleNotFoundError as exc:
        missing = (exc.name or str(exc)).split(".")[0]
        listed = ", ".join(spec.dependencies) or "nothing"
        raise ConfigError(
            f"{label}: module {missing!r} is not installed; add it to your environment "
            f"(langgraph.json lists: {listed})"
        ) from exc
    except Exception as exc:  # whatever the user's module raises: say what and where
        where = _where(exc, file)
        raise ConfigError(
            f"{label}: importing it raised {type(exc).__name__}: {exc}{where}"
        ) from exc


def _where(exc: BaseException, file: Path | None) -> str:
    """`` (at agent.py:12)``: the deepest frame in the graph's own file, if any."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if file is not None and Path(f.filename) == file]
    frame = ours[-1] if ours else (frames[-1] if frames else None)
    return f" (at {Path(frame.filename).name}:{frame.lineno})" if frame is not None else ""


class StoreIndexConfig(msgspec.Struct, frozen=True, kw_only=True):
    """``store.index`` of a langgraph.json: what semantic search embeds, and with which model."""

    embed: str
    dims: int | None = None
    fields: tuple[str, ...] = ("$",)

    @property
    def model(self) -> str:
        """The model to ask the embeddings endpoint for (``"openai:m"`` → ``"m"``)."""
        return self.embed.split(":", 1)[1] if ":" in self.embed else self.embed


class StoreTTLConfig(msgspec.Struct, frozen=True, kw_only=True):
    """``store.ttl`` of a langgraph.json (minutes), as LangGraph's ``TTLConfig``."""

    default_ttl: float | None = None
    refresh_on_read: bool = True
    sweep_interval_minutes: float | None = None


class StoreConfig(msgspec.Struct, frozen=True, kw_only=True):
    """The ``store`` section of a langgraph.json; both parts are optional."""

    index: StoreIndexConfig | None = None
    ttl: StoreTTLConfig | None = None


def store_config(project: ProjectConfig) -> StoreConfig:
    """The project's ``store`` section, validated (:class:`ConfigError` when malformed)."""
    section = project.raw.get("store")
    if section is None:
        return StoreConfig()
    try:
        config = msgspec.convert(section, StoreConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f'{project.path}: invalid "store" section: {exc}') from exc
    index, ttl = config.index, config.ttl
    if index is not None:
        if not index.embed or index.embed.endswith(".py") or ".py:" in index.embed:
            raise ConfigError(
                f'{project.path}: "store.index.embed" must name a model ("provider:model"); '
                "embedding functions from files are not supported"
            )
        if index.dims is not None and index.dims <= 0:
            raise ConfigError(f'{project.path}: "store.index.dims" must be positive')
        if not index.fields or not all(index.fields):
            raise ConfigError(f'{project.path}: "store.index.fields" must be non-empty paths')
    if ttl is not None:
        for name in ("default_ttl", "sweep_interval_minutes"):
            minutes = getattr(ttl, name)
            if minutes is not None and not 0 < minutes < float("inf"):
                raise ConfigError(f'{project.path}: "store.ttl.{name}" must be positive minutes')
    return config

"""Which project ``headwater dev`` serves, where its data lives, and its LLM environment.

As ``langgraph dev``: the langgraph.json of the folder it runs in, unless ``--config`` or
``HEADWATER_CONFIG`` names one (relative paths against the caller's directory). Dev data
lives beside the config, in ``<project>/.headwater/``, so projects never share a database.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from headwater.cli.startup_error import StartupError

CHECKOUT_EXAMPLE = Path("examples") / "agent" / "langgraph.json"
PLACEHOLDER_OPENAI_KEY = "headwater-dev-simulator"


def dev_config(given: str | None, cwd: Path) -> Path:
    """The langgraph.json ``headwater dev`` serves, as an absolute path."""
    if given:
        path = Path(given).expanduser()
        path = path if path.is_absolute() else cwd / path
        if path.is_dir():
            path = path / "langgraph.json"
        if not path.is_file():
            raise StartupError(
                f"config file not found: {path} (--config / HEADWATER_CONFIG={given})"
            )
        return path.resolve()
    for candidate in (cwd / "langgraph.json", cwd / CHECKOUT_EXAMPLE):
        if candidate.is_file():
            return candidate.resolve()
    raise StartupError(
        f"no langgraph.json in {cwd}: run `headwater dev` in your LangGraph project's folder, "
        "or pass --config path/to/langgraph.json (or set HEADWATER_CONFIG)"
    )


def dev_database_url(config: Path) -> str:
    """Dev's SQLite database, in the project's ``.headwater/`` folder."""
    return f"sqlite+aiosqlite:///{config.parent / '.headwater' / 'headwater.sqlite'}"


def point_openai_at(
    base_url: str, project_env: Mapping[str, str], environ: MutableMapping[str, str] = os.environ
) -> list[str]:
    """Point a stock ``ChatOpenAI(...)`` at the simulator: set ``OPENAI_BASE_URL`` and a
    placeholder ``OPENAI_API_KEY`` unless the environment or the project's ``env`` sets them.
    Returns the names set."""
    wanted = {"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": PLACEHOLDER_OPENAI_KEY}
    done = []
    for name, value in wanted.items():
        if not environ.get(name) and not project_env.get(name):
            environ[name] = value
            done.append(name)
    return done

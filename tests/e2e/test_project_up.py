"""A project laid out like LangGraph's new-project template, served by ``headwater up``.

Our own files in the template's shape: a ``pyproject.toml`` with its own package
(``src/agent/``), ``src/agent/graph.py`` exporting ``graph`` (a stock ``ChatOpenAI`` that may
call a tool from the package), ``langgraph.json`` with ``"dependencies": ["."]`` and
``"env": ".env"``, and a ``.env``. Headwater is installed into the project's own virtual
environment as docs/your-project.md says (wheels from ``uv build --all-packages``, then
``uv pip install --find-links … 'headwater-cli[embedded]'`` beside ``-e .``), and ``headwater
up`` runs in the project's folder: embedded NATS and PostgreSQL, migrate, the API, the memory
service, two workers and the simulator scripted by ``--rules``. A langgraph-sdk stream must go
through the tool loop with the ``.env`` value, and Ctrl-C must stop everything cleanly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client

from tests.services import START_TIMEOUT_S, free_port, log_tail

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
ROOT = Path(__file__).resolve().parents[2]

PYPROJECT = """[project]
name = "agent"
version = "0.0.1"
description = "A weather agent on LangGraph"
requires-python = ">=3.11"
dependencies = ["langgraph>=1.0", "langchain-openai>=0.3"]

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[tool.hatch.build.targets.wheel]
packages = ["src/agent"]
"""

TOOLS = '''"""The agent's tools."""

import os

from langchain_core.tools import tool


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"It is 21 degrees {os.environ.get('WEATHER_UNIT', 'kelvin')} in {city}."
'''

GRAPH = '''"""A chat model that may call the weather tool, until it answers."""

from langchain_openai import ChatOpenAI
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from agent.tools import get_weather

model = ChatOpenAI(model="gpt-4o-mini").bind_tools([get_weather])


async def call_model(state: MessagesState) -> dict:
    return {"messages": [await model.ainvoke(state["messages"])]}


builder = StateGraph(MessagesState)
builder.add_node("call_model", call_model)
builder.add_node("tools", ToolNode([get_weather]))
builder.add_edge(START, "call_model")
builder.add_conditional_edges("call_model", tools_condition)
builder.add_edge("tools", "call_model")
graph = builder.compile(name="Weather Agent")
'''

RULES = [
    {
        "contains": "weather in",
        "tool_call": {"name": "get_weather", "arguments": {"city": "{after:weather in}"}},
    }
]


def finished_runs(port: int) -> float:
    """Successful runs on one worker's /metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    found = re.search(r'^headwater_runs_finished_total\{status="success"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def uv() -> str:
    found = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    if not Path(found).exists():
        pytest.fail("uv is missing: scripts/bootstrap.sh installs it")
    return found


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(argv)}:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def template_project() -> Iterator[Path]:
    """The project, with Headwater and itself installed in its own ``.venv``."""
    base = Path(tempfile.mkdtemp(prefix="hw-template-"))
    base.chmod(0o755)  # as root, the embedded PostgreSQL runs as an unprivileged account
    folder = base / "weather-agent"
    (folder / "src" / "agent").mkdir(parents=True)
    (folder / "pyproject.toml").write_text(PYPROJECT)
    (folder / "src" / "agent" / "__init__.py").write_text('"""A weather agent."""\n')
    (folder / "src" / "agent" / "tools.py").write_text(TOOLS)
    (folder / "src" / "agent" / "graph.py").write_text(GRAPH)
    (folder / ".env").write_text('# read by langgraph.json\'s "env"\nWEATHER_UNIT=celsius\n')
    (folder / "langgraph.json").write_text(
        json.dumps(
            {
                "dependencies": ["."],
                "graphs": {"agent": "./src/agent/graph.py:graph"},
                "env": ".env",
            }
        )
    )
    (folder / "rules.json").write_text(json.dumps(RULES))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_PROJECT"))}
    env.update(UV_PYTHON_DOWNLOADS="never")
    dist = base / "dist"
    run([uv(), "build", "--all-packages", "--wheel", "-q", "-o", str(dist)], ROOT, env)
    # The lock's versions as constraints: the same releases the checkout runs (and the ones in
    # uv's cache, so this works offline once the checkout is synced: UV_OFFLINE is honoured).
    pins = base / "pins.txt"
    export = [uv(), "export", "--frozen", "--no-emit-workspace", "--no-hashes", "--no-dev"]
    run([*export, "--all-extras", "-q", "-o", str(pins)], ROOT, env)
    run([uv(), "venv", "-q", "--python", sys.executable, str(folder / ".venv")], folder, env)
    install = [uv(), "pip", "install", "-q", "--python", str(folder / ".venv" / "bin" / "python")]
    install += ["--find-links", str(dist), "-c", str(pins), "headwater-cli[embedded]", "-e", "."]
    run(install, folder, env)
    yield folder
    if os.environ.get("HEADWATER_KEEP_TEST_LOGS") is None:
        shutil.rmtree(base, ignore_errors=True)


async def test_template_project_streams_through_headwater_up(template_project: Path) -> None:
    headwater = template_project / ".venv" / "bin" / "headwater"
    assert headwater.exists(), "the install put the headwater command in the project's .venv"
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HEADWATER_", "OPENAI_", "VIRTUAL_ENV"))
    }
    env.update(PYTHONUNBUFFERED="1", PATH=f"{template_project / '.venv' / 'bin'}:{env['PATH']}")
    log = template_project / "up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(headwater), "up", "--workers", "2", "--port", str(port), "--rules", "rules.json"],
            cwd=template_project,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S + 60
        while "[up] ready" not in log.read_text(errors="replace"):
            assert process.poll() is None, log_tail(log, 60)
            assert time.monotonic() < deadline, log_tail(log, 60)
            time.sleep(0.2)
        client = get_client(url=f"http://127.0.0.1:{port}")
        assistants = await client.assistants.search(graph_id="agent")
        assert [a["graph_id"] for a in assistants] == ["agent"]
        thread = await client.threads.create()
        values: list[dict[str, object]] = []
        tokens: list[str] = []
        async for part in client.runs.stream(
            thread["thread_id"],
            "agent",
            input={"messages": [{"role": "user", "content": "what is the weather in Paris"}]},
            stream_mode=["values", "messages-tuple"],
        ):
            assert part.event != "error", part.data
            if part.event == "values":
                values.append(part.data)
            elif part.event == "messages":
                chunk, meta = part.data
                if chunk.get("type") == "AIMessageChunk" and chunk.get("content"):
                    assert meta["langgraph_node"] == "call_model"
                    tokens.append(chunk["content"])
        messages = values[-1]["messages"]
        assert isinstance(messages, list)
        assert [m["type"] for m in messages] == ["human", "ai", "tool", "ai"]
        assert messages[1]["tool_calls"][0]["args"] == {"city": "Paris"}
        assert messages[2]["content"] == "It is 21 degrees celsius in Paris."  # .env reached it
        assert messages[3]["content"] == "The tool returned: It is 21 degrees celsius in Paris.."
        assert "".join(tokens) == messages[3]["content"]
        runs = await client.runs.list(thread["thread_id"])
        assert [r["status"] for r in runs] == ["success"]
        ports = re.search(r"metrics on (\d+), (\d+)", log.read_text(errors="replace"))
        assert ports, log_tail(log, 30)
        assert sum(finished_runs(int(p)) for p in ports.groups()) == 1  # a worker of up ran it
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
    out = log.read_text(errors="replace")
    assert code == 0, log_tail(log, 60)
    assert "Traceback" not in out
    assert "[up] OPENAI_BASE_URL set for the graphs: http://127.0.0.1:" in out
    assert "[up] OPENAI_API_KEY set for the graphs" in out
    assert out.rstrip().endswith("[up] stopped")
    assert (template_project / ".headwater" / "up" / "postgres" / "pgdata").is_dir()

"""A LangGraph user's own project, served by ``headwater dev`` run from its folder.

The project is what a LangGraph template gives: its own folder and ``pyproject.toml``, a
``langgraph.json``, a stock ``ChatOpenAI(model="gpt-4o-mini")`` graph with a tool, no
Headwater-specific code. Dev points the OpenAI client at the simulator, and a rules file makes
the simulator call the project's tool.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client

from tests.e2e.harness import wait_until_ready
from tests.services import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
ROOT = Path(__file__).resolve().parents[2]

AGENT = '''
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.prebuilt import create_react_agent


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"It is always sunny in {city}."


graph = create_react_agent(ChatOpenAI(model="gpt-4o-mini"), [get_weather])
'''

PYPROJECT = """[project]
name = "weather-agent"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["langgraph", "langchain-openai"]
"""

RULES = [
    {
        "contains": "weather in",
        "tool_call": {"name": "get_weather", "arguments": {"city": "{after:weather in}"}},
    }
]


@pytest.fixture
def weather_project(tmp_path: Path) -> Path:
    folder = tmp_path / "weather-agent"
    folder.mkdir()
    (folder / "agent.py").write_text(AGENT)
    (folder / "pyproject.toml").write_text(PYPROJECT)
    (folder / "langgraph.json").write_text(
        json.dumps({"dependencies": ["."], "graphs": {"weather": "./agent.py:graph"}, "env": {}})
    )
    (folder / "rules.json").write_text(json.dumps(RULES))
    return folder


def headwater_in(folder: Path, *args: str) -> subprocess.Popen[str]:
    """``uv run --project <checkout> headwater …`` with the project folder as cwd."""
    uv = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    command = (
        [uv, "run", "--frozen", "--project", str(ROOT), "headwater", *args]
        if Path(uv).exists()
        else [sys.executable, "-m", "headwater.cli.main", *args]
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HEADWATER_", "OPENAI_", "VIRTUAL_ENV"))
    }
    env["PYTHONUNBUFFERED"] = "1"
    return subprocess.Popen(
        command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


async def test_stock_chatopenai_project_streams_through_dev_from_its_folder(
    weather_project: Path,
) -> None:
    port = free_port()
    process = headwater_in(weather_project, "dev", "--port", str(port), "--rules", "rules.json")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, timeout=180)
        client = get_client(url=base)
        assistants = await client.assistants.search(graph_id="weather")
        assert [a["graph_id"] for a in assistants] == ["weather"]
        thread = await client.threads.create()
        values: list[dict[str, object]] = []
        tokens: list[str] = []
        async for part in client.runs.stream(
            thread["thread_id"],
            "weather",
            input={"messages": [{"role": "user", "content": "what is the weather in Paris"}]},
            stream_mode=["values", "messages-tuple"],
        ):
            if part.event == "values":
                values.append(part.data)
            elif part.event == "messages":
                chunk, _meta = part.data
                if chunk.get("type") == "AIMessageChunk" and chunk.get("content"):
                    tokens.append(chunk["content"])
        messages = values[-1]["messages"]
        assert isinstance(messages, list)
        kinds = [m["type"] for m in messages]
        assert kinds == ["human", "ai", "tool", "ai"]
        assert messages[1]["tool_calls"][0]["name"] == "get_weather"
        assert messages[1]["tool_calls"][0]["args"] == {"city": "Paris"}
        assert messages[2]["content"] == "It is always sunny in Paris."
        assert messages[3]["content"] == "The tool returned: It is always sunny in Paris.."
        assert "".join(tokens).endswith("It is always sunny in Paris..")
        await _docs_work_offline(base)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            out, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            out, _ = process.communicate()
    assert process.returncode == 0, out
    assert "Traceback" not in out
    assert f"ready: API {base}" in out
    assert f"console {base}/console" in out
    assert "OPENAI_API_KEY set for the graphs" in out
    assert "(graph weather): success in" in out
    assert f"POST /threads/{thread['thread_id']}/runs/stream 200" in out
    assert (weather_project / ".headwater" / "headwater.sqlite").is_file()


async def _docs_work_offline(base: str) -> None:
    """``/docs`` refers only to assets the API serves itself (no CDN)."""
    async with httpx.AsyncClient(base_url=base) as http:
        page = await http.get("/docs")
        assert page.status_code == 200
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
        assert len(urls) >= 4, page.text
        for url in urls:
            assert url.startswith("/docs/static/swagger-ui/"), url
            asset = await http.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 500, url
        assert "SwaggerUIBundle" in page.text


def test_dev_without_a_langgraph_json_says_where_it_looked(tmp_path: Path) -> None:
    process = headwater_in(tmp_path, "dev", "--port", str(free_port()))
    out, _ = process.communicate(timeout=180)
    assert process.returncode == 1
    assert out.strip().splitlines()[-1] == (
        f"headwater dev: no langgraph.json in {tmp_path}: run `headwater dev` in your LangGraph "
        "project's folder, or pass --config path/to/langgraph.json (or set HEADWATER_CONFIG)"
    )


def test_wheels_carry_what_an_installed_headwater_needs(tmp_path: Path) -> None:
    """`uv build --all-packages`: every package, its licence, the migrations, the docs UI."""
    uv = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    if not Path(uv).exists():
        pytest.fail("uv is missing: scripts/bootstrap.sh installs it")
    built = subprocess.run(
        [uv, "build", "--all-packages", "--wheel", "-o", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    wheels = {w.name.split("-")[0]: w for w in tmp_path.glob("*.whl")}
    assert set(wheels) == {
        f"headwater_{n}" for n in ("api", "cli", "common", "llm", "memory", "simllm", "worker")
    }
    for name, wheel in wheels.items():
        with zipfile.ZipFile(wheel) as archive:
            files = set(archive.namelist())
            metadata = archive.read(f"{name}-0.1.0.dist-info/METADATA").decode()
        assert "License-Expression: Apache-2.0" in metadata, name
        assert f"{name}-0.1.0.dist-info/licenses/LICENSE" in files, name
        if name == "headwater_common":
            versions = [f for f in files if "/db/migrations/versions/" in f]
            assert len(versions) == len(
                list(
                    (ROOT / "libs/common/src/headwater/common/db/migrations/versions").glob("*.py")
                )
            )
            assert "headwater/common/db/migrations/env.py" in files
            assert "headwater/common/db/migrations/script.py.mako" in files
        if name == "headwater_api":
            assets = "headwater/api/static/swagger-ui/"
            for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"):
                assert assets + asset in files
            # The console ships built: its index and every asset it references.
            assert "headwater/api/console_dist/index.html" in files
            shipped = ROOT / "services/api/src/headwater/api/console_dist/assets"
            for asset in shipped.iterdir():
                assert f"headwater/api/console_dist/assets/{asset.name}" in files


def test_dev_names_a_dependency_that_is_not_installed(tmp_path: Path) -> None:
    folder = tmp_path / "needs-anthropic"
    folder.mkdir()
    (folder / "agent.py").write_text(
        "from langchain_anthropic import ChatAnthropic\ngraph = None\n"
    )
    (folder / "langgraph.json").write_text(
        json.dumps(
            {"dependencies": [".", "langchain-anthropic"], "graphs": {"agent": "./agent.py:graph"}}
        )
    )
    process = headwater_in(folder, "dev", "--port", str(free_port()))
    out, _ = process.communicate(timeout=180)
    assert process.returncode == 1
    assert "Traceback" not in out
    assert out.strip().splitlines()[-1] == (
        "headwater dev: graph 'agent' (./agent.py): module 'langchain_anthropic' is not "
        "installed; add it to your environment (langgraph.json lists: ., langchain-anthropic)"
    )

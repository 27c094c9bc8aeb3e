"""Misconfigurations end in one line naming the setting, or wait (stoppable) for the service.

Each test runs the real ``headwater`` command as a subprocess and asserts its message, its exit
status and how fast it stops; no traceback may reach the user.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import msgspec
import pytest

from headwater.cli.dockerfile import render_dockerfile
from headwater.cli.help_env import SETTINGS_BY_COMMAND
from headwater.cli.main import build_parser
from headwater.cli.project import PLACEHOLDER_OPENAI_KEY, dev_config, point_openai_at
from headwater.cli.startup import StartupError
from headwater.common.graph_config import ConfigError, import_attribute, load_project
from headwater.common.settings import ENV_DOCS, Settings
from tests.services import NatsServer, free_port

pytestmark = [pytest.mark.unit, pytest.mark.timeout(180)]
ROOT = Path(__file__).resolve().parents[2]
STARTUP_S = 120.0  # imports on a loaded 2-core machine; the assertions are on the messages


def headwater(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    base.update(PYTHONUNBUFFERED="1", **(env or {}))
    return subprocess.Popen(
        [sys.executable, "-m", "headwater.cli.main", *args],
        cwd=cwd,
        env=base,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finished(process: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = process.communicate(timeout=STARTUP_S)
    return process.returncode, out


def project(folder: Path, agent_source: str, dependencies: list[str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "agent.py").write_text(agent_source)
    config = {"dependencies": dependencies or ["."], "graphs": {"agent": "./agent.py:graph"}}
    (folder / "langgraph.json").write_text(json.dumps(config))
    return folder


def last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


# graph import failures, in process -----------------------------------------------------------


def test_typo_in_graph_path_names_graph_and_file(tmp_path: Path) -> None:
    (tmp_path / "langgraph.json").write_text('{"graphs": {"agent": "./agnet.py:graph"}}')
    spec = load_project(tmp_path / "langgraph.json").graphs["agent"]
    with pytest.raises(ConfigError) as err:
        import_attribute(spec)
    assert str(err.value) == (
        f"graph 'agent': file not found: {tmp_path / 'agnet.py'} "
        f"('./agnet.py' in {tmp_path / 'langgraph.json'})"
    )


def test_missing_dependency_is_named_with_the_declared_dependencies(tmp_path: Path) -> None:
    project(
        tmp_path, "import headwater_no_such_pkg\ngraph = None\n", [".", "headwater-no-such-pkg"]
    )
    spec = load_project(tmp_path / "langgraph.json").graphs["agent"]
    with pytest.raises(ConfigError) as err:
        import_attribute(spec)
    assert str(err.value) == (
        "graph 'agent' (./agent.py): module 'headwater_no_such_pkg' is not installed; add it to "
        "your environment (langgraph.json lists: ., headwater-no-such-pkg)"
    )


def test_graph_raising_on_import_says_what_and_where(tmp_path: Path) -> None:
    project(tmp_path, "x = 1\nraise RuntimeError('no API key for the tool')\n")
    spec = load_project(tmp_path / "langgraph.json").graphs["agent"]
    with pytest.raises(ConfigError) as err:
        import_attribute(spec)
    assert str(err.value) == (
        "graph 'agent' (./agent.py): importing it raised RuntimeError: no API key for the tool "
        "(at agent.py:2)"
    )


# project resolution and the simulator's environment ------------------------------------------


def test_dev_config_resolves_against_the_callers_folder(tmp_path: Path) -> None:
    project(tmp_path / "proj", "graph = None\n")
    assert dev_config(None, tmp_path / "proj") == (tmp_path / "proj" / "langgraph.json")
    assert dev_config("proj/langgraph.json", tmp_path) == tmp_path / "proj" / "langgraph.json"
    assert dev_config("proj", tmp_path) == tmp_path / "proj" / "langgraph.json"
    with pytest.raises(StartupError, match=r"no langgraph.json in .*--config"):
        dev_config(None, tmp_path)
    with pytest.raises(StartupError, match=r"config file not found: .*HEADWATER_CONFIG=nope.json"):
        dev_config("nope.json", tmp_path)


def test_openai_variables_point_at_the_simulator_unless_set() -> None:
    environ: dict[str, str] = {}
    assert point_openai_at("http://sim/v1", {}, environ) == ["OPENAI_BASE_URL", "OPENAI_API_KEY"]
    assert environ == {"OPENAI_BASE_URL": "http://sim/v1", "OPENAI_API_KEY": PLACEHOLDER_OPENAI_KEY}
    environ = {"OPENAI_API_KEY": "sk-mine"}
    assert point_openai_at("http://sim/v1", {"OPENAI_BASE_URL": "http://x/v1"}, environ) == []
    assert environ == {"OPENAI_API_KEY": "sk-mine"}


def test_dockerfile_installs_local_packages_and_requirements(tmp_path: Path) -> None:
    folder = project(tmp_path, "graph = None\n", [".", "./tools_pkg", "langchain-anthropic>=0.3"])
    (folder / "requirements.txt").write_text("httpx\n")
    (folder / "tools_pkg").mkdir()
    (folder / "tools_pkg" / "pyproject.toml").write_text('[project]\nname = "tools-pkg"\n')
    text = render_dockerfile(folder / "langgraph.json", "ghcr.io/me/headwater-worker:0.1.0")
    lines = text.splitlines()
    assert "FROM ghcr.io/me/headwater-worker:0.1.0" in lines
    assert "COPY --chown=10001:10001 . /deps/project" in lines
    assert (
        "RUN uv pip install --no-cache --python /app/.venv/bin/python "
        "-r /deps/project/requirements.txt /deps/project/tools_pkg 'langchain-anthropic>=0.3'"
    ) in lines
    assert "ENV HEADWATER_CONFIG=/deps/project/langgraph.json" in lines
    outside = project(tmp_path / "p2", "graph = None\n", ["../elsewhere"])
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(StartupError, match="outside the project folder"):
        render_dockerfile(outside / "langgraph.json", "headwater-worker")


# --help ---------------------------------------------------------------------------------------

_PROPERTY_SETTINGS = {
    "naming_secret": ["id_secret", "jwt_secret", "api_keys"],
    "store_dsn": ["store_url", "database_url"],
    "checkpoint_dsn": ["checkpoint_url", "database_url"],
}


def _settings_read_by(*folders: str) -> set[str]:
    fields = {f.name for f in msgspec.structs.fields(Settings)}
    names: set[str] = set()
    for folder in folders:
        for file in (ROOT / folder).rglob("*.py"):
            for attr in re.findall(r"settings\.([a-z_]+)", file.read_text()):
                for name in _PROPERTY_SETTINGS.get(attr, [attr]):
                    if name in fields:
                        names.add(f"HEADWATER_{name.upper()}")
    return names


def _help(command: str) -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return str(sub.choices[command].format_help())


_BUS = ["NATS_URL", "NAMESPACE", "ACK_WAIT_S", "MAX_DELIVER", "EVENT_RETENTION_S"]
_CLI_READS = {  # what libs/cli itself reads for each command, besides the service's code
    "api": ["HOST", "PORT", "DATABASE_URL", "STREAM_REPLICAS", *_BUS],
    "worker": ["HOST", "METRICS_PORT", "DATABASE_URL", "WORKER_CONCURRENCY", *_BUS],
    "memory": ["HOST", "PORT"],
    "dev": ["HOST", "PORT", "DATABASE_URL", "LLM_BASE_URL", "EMBEDDINGS_BASE_URL", *_BUS[2:]],
}


@pytest.mark.parametrize(
    ("command", "code"),
    [
        ("api", ["services/api"]),
        ("worker", ["services/worker"]),
        ("memory", ["services/memory"]),
        ("dev", ["services/api", "services/worker", "services/memory"]),
    ],
)
def test_help_lists_every_setting_the_command_reads(command: str, code: list[str]) -> None:
    read = _settings_read_by(*code) | {f"HEADWATER_{n}" for n in _CLI_READS[command]}
    if command == "dev":  # the in-process bus: no NATS
        read -= {"HEADWATER_NATS_URL", "HEADWATER_NAMESPACE", "HEADWATER_STREAM_REPLICAS"}
    text = _help(command)
    missing = sorted(name for name in read if name not in text)
    assert not missing, f"`headwater {command} --help` omits {missing}"
    assert "HEADWATER_LOG_LEVEL" in text


def test_every_setting_is_in_some_commands_help() -> None:
    listed = {name for names in SETTINGS_BY_COMMAND.values() for name in names}
    assert set(ENV_DOCS) - listed == set()


# start-up failures as processes ---------------------------------------------------------------


def test_dev_with_a_typod_config_exits_with_one_line(tmp_path: Path) -> None:
    code, out = finished(headwater(["dev", "--config", "langgraf.json"], tmp_path))
    assert code == 1
    assert out.strip() == (
        f"headwater dev: config file not found: {tmp_path / 'langgraf.json'} "
        "(--config / HEADWATER_CONFIG=langgraf.json)"
    )


def test_dev_with_a_graph_raising_on_import_exits_with_one_line(tmp_path: Path) -> None:
    project(tmp_path, "raise ValueError('set WEATHER_TOKEN')\n")
    code, out = finished(headwater(["dev", "--port", str(free_port())], tmp_path))
    assert code == 1
    assert "Traceback" not in out
    assert last_line(out) == (
        "headwater dev: graph 'agent' (./agent.py): importing it raised ValueError: "
        "set WEATHER_TOKEN (at agent.py:1)"
    )


def test_worker_metrics_port_clash_names_the_setting(tmp_path: Path) -> None:
    project(tmp_path, "graph = None\n")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code, out = finished(
            headwater(
                ["worker"],
                tmp_path,
                {"HEADWATER_METRICS_PORT": str(port), "HEADWATER_NATS_URL": "nats://127.0.0.1:1"},
            )
        )
    assert code == 1
    assert "Traceback" not in out
    assert last_line(out) == (
        f"headwater worker: port {port} on 127.0.0.1 is already in use "
        f"(HEADWATER_METRICS_PORT = {port}): give each worker on this host its own port, "
        "or 0 to turn the worker's /healthz, /readyz and /metrics off"
    )


def test_unmigrated_database_says_run_headwater_migrate(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    project(tmp_path, "graph = None\n")
    database = f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite'}"
    env = {
        "HEADWATER_NATS_URL": nats_server.url,
        "HEADWATER_DATABASE_URL": database,
        "HEADWATER_CONFIG": str(tmp_path / "langgraph.json"),
        "HEADWATER_PORT": str(free_port()),
    }
    code, out = finished(headwater(["api"], tmp_path, env))
    assert code == 1
    assert "Traceback" not in out
    head = sorted((ROOT / "libs/common/src/headwater/common/db/migrations/versions").glob("0*.py"))
    assert last_line(out) == (
        f"headwater api: database at {database} (HEADWATER_DATABASE_URL) is not migrated "
        f"(revision none, needs {head[-1].name.split('_')[0]}): run `headwater migrate`"
    )
    code, out = finished(headwater(["migrate", "--check"], tmp_path, env))
    assert code == 1
    assert last_line(out).endswith("run `headwater migrate`")


def _wait_for(url: str, process: subprocess.Popen[str]) -> httpx.Response:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
    raise TimeoutError(url)


@pytest.mark.parametrize("command", ["api", "worker"])
def test_unreachable_nats_waits_reports_and_stops_on_sigterm(tmp_path: Path, command: str) -> None:
    project(tmp_path, "graph = None\n")
    port = free_port()
    dead = f"nats://127.0.0.1:{free_port()}"
    env = {
        "HEADWATER_NATS_URL": dead,
        "HEADWATER_CONFIG": str(tmp_path / "langgraph.json"),
        "HEADWATER_PORT": str(port),
        "HEADWATER_METRICS_PORT": str(port),
    }
    process = headwater([command], tmp_path, env)
    try:
        ready = _wait_for(f"http://127.0.0.1:{port}/readyz", process)
        assert ready.status_code == 503
        deadline = time.monotonic() + 30
        while "unreachable" not in json.dumps(ready.json()) and time.monotonic() < deadline:
            time.sleep(0.3)
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
        assert ready.json()["checks"]["startup"].startswith(f"NATS at {dead} unreachable: ")
        time.sleep(1.0)  # somewhere inside the backoff
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code, out = finished(process)
        took = time.monotonic() - stopped_at
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert code == 0
    assert took < 5.0, f"{command} took {took:.1f} s to stop"
    assert "Traceback" not in out
    assert f"NATS at {dead} (HEADWATER_NATS_URL) unreachable" in out


def test_migrate_against_a_dead_database_exits_with_one_line(tmp_path: Path) -> None:
    dead = f"postgresql+asyncpg://headwater:secret@127.0.0.1:{free_port()}/headwater"
    code, out = finished(headwater(["migrate"], tmp_path, {"HEADWATER_DATABASE_URL": dead}))
    assert code == 1
    assert "Traceback" not in out
    line = last_line(out)
    assert line.startswith(
        "headwater migrate: database at postgresql+asyncpg://headwater:***@127.0.0.1:"
    ), line
    assert "(HEADWATER_DATABASE_URL) is unreachable: " in line
    assert "secret" not in out


def test_dead_database_waits_reports_and_stops_on_sigint(tmp_path: Path) -> None:
    project(tmp_path, "graph = None\n")
    port = free_port()
    dead = f"postgresql+asyncpg://headwater@127.0.0.1:{free_port()}/headwater"
    env = {
        "HEADWATER_DATABASE_URL": dead,
        "HEADWATER_PORT": str(port),
        "HEADWATER_SERVICE_TOKEN": "test-token",
    }
    process = headwater(["memory"], tmp_path, env)
    try:
        url = f"http://127.0.0.1:{port}/readyz"
        ready = _wait_for(url, process)
        deadline = time.monotonic() + 30
        while "unreachable" not in ready.text and time.monotonic() < deadline:
            time.sleep(0.3)
            ready = httpx.get(url, timeout=2)
        assert ready.status_code == 503
        assert ready.json()["checks"]["startup"].startswith("database unreachable: ")
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGINT)
        code, out = finished(process)
        took = time.monotonic() - stopped_at
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert code == 0
    assert took < 5.0, f"memory took {took:.1f} s to stop"
    assert "Traceback" not in out
    assert f"database at {dead} (HEADWATER_DATABASE_URL) unreachable" in out

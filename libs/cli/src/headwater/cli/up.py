"""``headwater up``: the cluster topology on one machine, in one command.

NATS JetStream and PostgreSQL (with pgvector) from their PyPI wheels, their data under
``--data``; ``headwater migrate --streams``; the simulator (unless ``HEADWATER_LLM_BASE_URL`` is
set), the memory service, N workers (each its own metrics port) and the API on ``--port``; each
a child process whose output is printed with its name (``[worker-1] …``). Ctrl-C or SIGTERM
stops them in order: API, workers, memory, simulator, then NATS and PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from headwater.cli.project import point_openai_at
from headwater.cli.runtime import run
from headwater.common.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    EmbeddedStartError,
    free_port,
    require_installed,
)
from headwater.common.settings import DEFAULT_PORT, load_settings

DEFAULT_DATA = Path(".headwater") / "up"
DATABASE = "headwater"
READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 30.0
STOP_ORDER = ("api", "worker", "memory", "simllm")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``up`` sub-command and its options."""
    up = sub.add_parser(
        "up",
        help="the cluster on this machine: embedded NATS + PostgreSQL, migrate, API, memory, N workers",
        description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="environment: every HEADWATER_* setting is passed on to the processes, except\n"
        "the ones up sets itself (URLs and ports). HEADWATER_LLM_BASE_URL: use that LLM\n"
        "instead of starting the simulator.",
    )
    up.add_argument("--workers", type=int, default=2, help="number of workers (default 2)")
    up.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"API port (default {DEFAULT_PORT})"
    )
    up.add_argument(
        "--data",
        default=str(DEFAULT_DATA),
        help=f"NATS and PostgreSQL data (default ./{DEFAULT_DATA})",
    )
    up.add_argument(
        "--config",
        help="langgraph.json (default: $HEADWATER_CONFIG, else ./langgraph.json, else the example agent)",
    )
    up.add_argument(
        "--rules",
        help="JSON file of scripted simulator replies, as `dev --rules` (docs/simulator.md)",
    )


def main(args: argparse.Namespace) -> int:
    """Run ``headwater up`` until Ctrl-C/SIGTERM; the exit code."""
    if args.workers < 1:
        print("headwater up: --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        require_installed()
    except EmbeddedStartError as exc:
        print(f"headwater up: {exc}", file=sys.stderr)
        return 1
    config = args.config or os.environ.get("HEADWATER_CONFIG")
    if not config and Path("langgraph.json").exists():  # a project's folder, as `langgraph dev`
        config = "langgraph.json"
    data, code = Path(args.data).resolve(), 0
    rules = str(Path(args.rules).resolve()) if args.rules else None
    if rules and not Path(rules).is_file():
        print(
            f"headwater up: rules file not found: {rules} (--rules {args.rules})", file=sys.stderr
        )
        return 1

    async def serve() -> None:
        nonlocal code
        code = await Cluster(data, args.port, args.workers, config, rules).run()

    run(serve)
    return code


@dataclass
class Child:
    """A ``headwater`` sub-command of ours and the task printing its output."""

    name: str
    process: asyncio.subprocess.Process
    printer: asyncio.Task[None]


@dataclass
class Cluster:
    """The processes of one ``headwater up``."""

    data: Path
    port: int
    workers: int
    config: str | None
    rules: str | None = None
    children: dict[str, Child] = field(default_factory=dict)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> int:
        """Start everything, wait for a signal or a dead essential process, stop everything."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        self.data.mkdir(parents=True, exist_ok=True)
        postgres = EmbeddedPostgres(self.data / "postgres")
        nats = EmbeddedNats(self.data / "nats")
        try:
            say(f"data in {self.data}")
            await asyncio.to_thread(postgres.start)
            say(f"PostgreSQL 18 (pgvector) on 127.0.0.1:{postgres.port}, log {postgres.log_path}")
            await asyncio.to_thread(create_database, postgres.url(), DATABASE)
            await asyncio.to_thread(nats.start)
            say(f"NATS JetStream on {nats.url}, log {nats.log_path}")
            env = self.environment(nats.url, postgres.url(DATABASE, "postgresql+asyncpg"))
            if not self.stopping.is_set():
                return await self.serve(env)
            return 0
        except EmbeddedStartError as exc:
            say(f"cannot start: {exc}")
            return 1
        finally:
            await self.stop_children()
            await asyncio.to_thread(nats.stop)
            await asyncio.to_thread(postgres.stop)
            say("stopped")

    def environment(self, nats_url: str, database_url: str) -> dict[str, str]:
        """What every child reads: the caller's settings, with up's URLs and ports."""
        env = dict(os.environ)
        if self.config:
            env["HEADWATER_CONFIG"] = str(Path(self.config).resolve())
        env.update(
            HEADWATER_NATS_URL=nats_url,
            HEADWATER_DATABASE_URL=database_url,
            HEADWATER_MEMORY_URL=f"http://127.0.0.1:{free_port()}",
            PYTHONUNBUFFERED="1",
        )
        env.setdefault("HEADWATER_LOG_FORMAT", "text")  # read by people, one line per record
        # The memory service answers only callers with this token: the API and workers here.
        env.setdefault("HEADWATER_SERVICE_TOKEN", secrets.token_urlsafe(32))
        env.pop("HEADWATER_CHECKPOINT_URL", None)
        env.pop("HEADWATER_STORE_URL", None)
        if not env.get("HEADWATER_LLM_BASE_URL"):
            sim_port = free_port()
            env["HEADWATER_LLM_BASE_URL"] = f"http://127.0.0.1:{sim_port}/v1"
            env["HEADWATER_UP_SIMULATOR_PORT"] = str(sim_port)
            # The simulator transcribes WAV files too, as in dev.
            env.setdefault("HEADWATER_TRANSCRIPTION_BASE_URL", env["HEADWATER_LLM_BASE_URL"])
            if not env.get("HEADWATER_EMBEDDINGS_BASE_URL") and project_has_index(env):
                # The simulator's deterministic /v1/embeddings serve the project's store.index.
                env["HEADWATER_EMBEDDINGS_BASE_URL"] = env["HEADWATER_LLM_BASE_URL"]
            # As in dev: a stock ChatOpenAI(...) graph talks to the simulator unchanged.
            for name in point_openai_at(env["HEADWATER_LLM_BASE_URL"], project_env(env), env):
                say(f"{name} set for the graphs: {env[name]}")
        return env

    async def serve(self, env: dict[str, str]) -> int:
        """The simulator (migrate may ask it for an embedding size), migrate, the services;
        report ready, wait."""
        sim_port = env.pop("HEADWATER_UP_SIMULATOR_PORT", "")
        if sim_port:
            rules = ("--rules", self.rules) if self.rules else ()
            await self.spawn("simllm", env, "simllm", "--port", sim_port, *rules)
            if not await self.wait_ready([("simllm", f"http://127.0.0.1:{sim_port}/v1/models")]):
                return 0 if self.stopping.is_set() else 1
        migrate = await self.spawn("migrate", env, "migrate", "--streams")
        if await self.wait_exit(migrate) != 0:
            say("`headwater migrate --streams` failed (see [migrate] above)")
            return 1
        checks: list[tuple[str, str]] = []
        memory_url = env["HEADWATER_MEMORY_URL"]
        await self.spawn(
            "memory", {**env, "HEADWATER_PORT": memory_url.rsplit(":", 1)[1]}, "memory"
        )
        checks.append(("memory", f"{memory_url}/readyz"))
        metrics: list[int] = []
        for i in range(1, self.workers + 1):
            metrics.append(free_port())
            worker_env = {**env, "HEADWATER_METRICS_PORT": str(metrics[-1])}
            await self.spawn(f"worker-{i}", worker_env, "worker")
            checks.append((f"worker-{i}", f"http://127.0.0.1:{metrics[-1]}/readyz"))
        await self.spawn("api", {**env, "HEADWATER_PORT": str(self.port)}, "api")
        api = f"http://127.0.0.1:{self.port}"
        checks.append(("api", f"{api}/readyz"))
        if not await self.wait_ready(checks):
            return 0 if self.stopping.is_set() else 1
        say(
            f"ready\n  console:  {api}/console\n  API:      {api}  (docs {api}/docs)\n"
            f"  workers:  {self.workers} (metrics on {', '.join(str(p) for p in metrics)})\n"
            f"  memory:   {memory_url}\n  LLM:      {env['HEADWATER_LLM_BASE_URL']}\n"
            f"  NATS:     {env['HEADWATER_NATS_URL']}\n  Ctrl-C stops everything"
        )
        return await self.watch()

    async def spawn(self, name: str, env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
        """Start ``headwater <args>`` in its own session, its output printed as ``[name] …``."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "headwater.cli.main",
            *args,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C reaches up only; up stops them in order
        )
        assert process.stdout is not None
        printer = asyncio.create_task(print_lines(name, process.stdout))
        self.children[name] = Child(name, process, printer)
        return process

    async def wait_exit(self, process: asyncio.subprocess.Process) -> int:
        """The exit code, or -1 when asked to stop first."""
        stop = asyncio.create_task(self.stopping.wait())
        exit_ = asyncio.create_task(process.wait())
        await asyncio.wait({stop, exit_}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not exit_.done():
            exit_.cancel()
        return exit_.result() if exit_.done() else -1

    async def wait_ready(self, checks: list[tuple[str, str]]) -> bool:
        """Poll every readiness URL; False when stopped or when a process exits first."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        pending = list(checks)
        async with httpx.AsyncClient(timeout=2.0) as http:
            while pending:
                if self.stopping.is_set():
                    return False
                name, url = pending[0]
                code = self.children[name].process.returncode
                if code is not None:
                    say(f"{name} exited with code {code} while starting (see [{name}] above)")
                    return False
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(url)).status_code == 200:
                        pending.pop(0)
                        continue
                if time.monotonic() > deadline:
                    say(f"{name} was not ready after {READY_TIMEOUT_S:.0f} s ({url})")
                    return False
                await asyncio.sleep(0.1)
        return True

    async def watch(self) -> int:
        """Until a signal (0), or until the API, memory or simulator dies (1). A worker that
        exits is reported and the rest keep serving (scaling and failover are tried that way)."""
        waits = {
            asyncio.create_task(c.process.wait()): c.name
            for c in self.children.values()
            if c.name != "migrate"
        }
        stop = asyncio.create_task(self.stopping.wait())
        try:
            while True:
                done, _ = await asyncio.wait({stop, *waits}, return_when=asyncio.FIRST_COMPLETED)
                if stop in done:
                    return 0
                for task in done:
                    name = waits.pop(task)
                    say(f"{name} exited with code {task.result()}")
                    if not name.startswith("worker"):
                        return 1
        finally:
            for task in [stop, *waits]:
                task.cancel()

    async def stop_children(self) -> None:
        """SIGTERM in order (API, workers, memory, simulator); SIGKILL after a deadline."""
        for group in STOP_ORDER:
            members = [c for n, c in self.children.items() if n.split("-")[0] == group]
            await asyncio.gather(*(stop_child(c) for c in members))
        await asyncio.gather(*(stop_child(c) for c in self.children.values()))


async def stop_child(child: Child) -> None:
    """Ask one process to stop and wait for it (and for its last lines)."""
    if child.process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            child.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(child.process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            say(f"{child.name} did not stop within {STOP_TIMEOUT_S:.0f} s: killed")
            with contextlib.suppress(ProcessLookupError):
                child.process.kill()
            await child.process.wait()
    with contextlib.suppress(asyncio.CancelledError):
        await child.printer


async def print_lines(name: str, stream: asyncio.StreamReader) -> None:
    """Copy a child's output line by line, each prefixed with its name."""
    while line := await stream.readline():
        print(f"[{name}] {line.decode(errors='replace').rstrip()}", flush=True)


def project_env(env: dict[str, str]) -> dict[str, str]:
    """The served langgraph.json's ``env`` (empty when it cannot be read: the services say why)."""
    from headwater.common.graph_config import ConfigError, load_project

    try:
        return load_project(load_settings(env).config).env
    except (ConfigError, OSError):
        return {}


def project_has_index(env: dict[str, str]) -> bool:
    """Whether the served langgraph.json asks for semantic search (``store.index``)."""
    from headwater.common.graph_config import ConfigError
    from headwater.memory.options import project_store_config

    try:
        return project_store_config(load_settings(env).config).index is not None
    except ConfigError:
        return False  # the services report a malformed langgraph.json themselves


def say(text: str) -> None:
    """A line of up's own."""
    print(f"[up] {text}", flush=True)


def create_database(admin_url: str, name: str) -> None:
    """Create the Headwater database once (kept across ``up`` runs with the data folder)."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if found.fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')

"""``headwater``: run Headwater in one process (dev) or as cluster services."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from headwater.cli.help_env import SETTINGS_BY_COMMAND, env_epilog
from headwater.cli.startup_error import StartupError
from headwater.common.graph_config import ConfigError
from headwater.common.settings import DEFAULT_PORT, ENV_DOCS


def _sub(sub: Any, name: str, text: str, description: str | None = None) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=text,
        description=description or text,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=env_epilog(SETTINGS_BY_COMMAND[name]),
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="headwater",
        description="Serve LangGraph agents: one process for development, or API, workers and memory over NATS and PostgreSQL.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=env_epilog(list(ENV_DOCS)),
    )
    sub = parser.add_subparsers(dest="command", required=True)

    dev = _sub(
        sub,
        "dev",
        "API + worker in one process (in-process bus, SQLite, built-in LLM simulator)",
        "Serve a LangGraph project in one process, as `langgraph dev` does: the langgraph.json "
        "of the current folder unless --config or HEADWATER_CONFIG names one; data in "
        "<project>/.headwater/; without HEADWATER_LLM_BASE_URL the built-in simulator answers "
        "and OPENAI_BASE_URL / OPENAI_API_KEY point at it.",
    )
    dev.add_argument(
        "--config",
        help="langgraph.json to serve (default: $HEADWATER_CONFIG, else ./langgraph.json)",
    )
    dev.add_argument("--host", help="bind address (default: $HEADWATER_HOST or 127.0.0.1)")
    dev.add_argument("--port", type=int, help=f"port (default: $HEADWATER_PORT or {DEFAULT_PORT})")
    dev.add_argument(
        "--rules",
        help="JSON file of scripted simulator replies, tried before the built-in ones "
        "(docs/simulator.md)",
    )

    for name, text in (
        ("api", "the API service (cluster mode: NATS + database)"),
        ("worker", "a worker (cluster mode) running the graphs"),
        ("memory", "the memory service (the store)"),
    ):
        p = _sub(sub, name, text)
        if name != "worker":
            p.add_argument("--host")
            p.add_argument("--port", type=int)
        p.add_argument("--config", help="langgraph.json (default: $HEADWATER_CONFIG)")

    migrate = _sub(
        sub, "migrate", "apply database migrations (and create NATS streams with --streams)"
    )
    migrate.add_argument(
        "--streams",
        action="store_true",
        help="also create the NATS streams and the workers' consumer",
    )
    migrate.add_argument(
        "--check",
        action="store_true",
        help="apply nothing: exit 0 if the database is migrated, 1 (with the reason) if not",
    )
    migrate.add_argument(
        "--wait",
        action="store_true",
        help="with --check: wait until the database answers and is migrated (init containers)",
    )

    sim = _sub(sub, "simllm", "the OpenAI-compatible LLM simulator (stands in for vLLM)")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8000)
    sim.add_argument("--model", default="headwater-sim")
    sim.add_argument("--ttft-ms", type=float, default=0.0, help="delay before the first token")
    sim.add_argument("--token-delay-ms", type=float, default=0.0, help="delay between tokens")
    sim.add_argument("--reply-tokens", type=int, default=200, help="length of generated replies")
    sim.add_argument(
        "--rules", help="JSON file of scripted replies, tried first (docs/simulator.md)"
    )

    dockerfile = _sub(
        sub,
        "dockerfile",
        "write a worker Dockerfile for a LangGraph project (as `langgraph dockerfile`)",
        "Write a Dockerfile that extends the Headwater worker image with the project: "
        'langgraph.json\'s "dependencies" (local packages and requirements) installed, '
        "the project copied to /deps/project, HEADWATER_CONFIG set. Build it from the "
        "project folder.",
    )
    dockerfile.add_argument("output", help="where to write the Dockerfile ('-': stdout)")
    dockerfile.add_argument(
        "--config", "-c", help="langgraph.json (default: $HEADWATER_CONFIG, else ./langgraph.json)"
    )
    dockerfile.add_argument(
        "--base-image",
        default="headwater-worker",
        help="the worker image to extend (default: headwater-worker, built from "
        "docker/worker.Dockerfile)",
    )
    from headwater.cli import up  # its parser only; embedded services start in up.main

    up.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point: a misconfiguration ends with one line and exit status 1, Ctrl-C with 130."""
    args = build_parser().parse_args(argv)
    if args.command == "up":
        from headwater.cli import up

        sys.exit(up.main(args))
    try:
        _dispatch(args)
    except (StartupError, ConfigError) as exc:
        sys.exit(f"headwater {args.command}: {exc}")
    except KeyboardInterrupt:
        sys.exit(130)


def _dispatch(args: argparse.Namespace) -> None:  # noqa: C901 - to split (issue 14)
    from headwater.cli import commands
    from headwater.cli.runtime import run
    from headwater.common.settings import load_settings
    from headwater.common.telemetry.logs import setup_logging
    from headwater.common.telemetry.tracing import setup_tracing

    if args.command == "simllm":
        _simllm(args)
        return
    if args.command == "dockerfile":
        from headwater.cli.dockerfile import write_dockerfile
        from headwater.cli.project import dev_config

        config = dev_config(args.config or os.environ.get("HEADWATER_CONFIG"), Path.cwd())
        write_dockerfile(config, args.output, args.base_image)
        return
    overrides: dict[str, Any] = {k: getattr(args, k, None) for k in ("config", "host", "port")}
    rules = None
    if (
        not (overrides["config"] or os.environ.get("HEADWATER_CONFIG"))
        and Path("langgraph.json").is_file()
    ):
        overrides["config"] = str(Path("langgraph.json").resolve())  # as `headwater dev`
    if args.command == "dev":
        from headwater.cli.project import dev_config, dev_database_url

        config = dev_config(args.config or os.environ.get("HEADWATER_CONFIG"), Path.cwd())
        overrides["config"] = str(config)
        if not os.environ.get("HEADWATER_DATABASE_URL"):
            overrides["database_url"] = dev_database_url(config)
        if args.rules:
            rules = _rules(args.rules)
    settings = load_settings(**overrides)
    if settings.llm_base_url:  # graphs read the LLM from the environment: aliases resolved
        for name, value in (
            ("HEADWATER_LLM_BASE_URL", settings.llm_base_url),
            ("HEADWATER_LLM_MODEL", settings.llm_model),
        ):
            os.environ[name] = os.environ.get(name) or value
    setup_logging(
        settings.log_level,
        settings.log_format or ("text" if args.command in ("dev", "migrate") else "json"),
    )
    setup_tracing(f"headwater-{args.command}")
    if args.command == "dev":
        run(
            lambda: commands.run_dev(
                settings,
                start_simllm=not settings.llm_base_url,
                rules=rules,
            )
        )
    elif args.command == "api":
        run(lambda: commands.run_api(settings))
    elif args.command == "worker":
        run(lambda: commands.run_worker(settings))
    elif args.command == "memory":
        run(lambda: commands.run_memory(settings))
    elif args.command == "migrate":
        if args.wait and not args.check:
            raise StartupError("--wait goes with --check")
        run(
            lambda: commands.run_migrate(
                settings, streams=args.streams, check=args.check, wait=args.wait
            )
        )


def _rules(path: str) -> tuple[Any, ...]:
    from headwater.simllm.config import RulesError, scripted_rules

    try:
        return scripted_rules(path)
    except RulesError as exc:
        raise StartupError(f"{exc} (--rules)") from exc


def _simllm(args: argparse.Namespace) -> None:
    from headwater.cli.ports import check_port_free
    from headwater.cli.runtime import run
    from headwater.simllm.config import SimConfig

    config = SimConfig(
        model=args.model,
        ttft_ms=args.ttft_ms,
        token_delay_ms=args.token_delay_ms,
        reply_tokens=args.reply_tokens,
    )
    if args.rules:
        import msgspec

        config = msgspec.structs.replace(config, rules=_rules(args.rules))
    check_port_free(args.host, args.port, "--port")
    run(lambda: _serve_simllm(config, args.host, args.port))


async def _serve_simllm(config: Any, host: str, port: int) -> None:
    """Until SIGTERM/SIGINT, then a clean stop (exit status 0)."""
    from headwater.cli.runtime import stop_on_signals
    from headwater.simllm.server import serve_in_background

    stop = stop_on_signals()
    server, task, bound = await serve_in_background(config, host, port)
    print(
        f"headwater simllm: http://{host}:{bound}/v1 (simulated replies, not a model)", flush=True
    )
    await stop.wait()
    server.should_exit = True
    await task


if __name__ == "__main__":
    main()

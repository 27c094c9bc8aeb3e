"""``headwater``: run Headwater in one process (dev) or as cluster services."""

from __future__ import annotations

import argparse
import os
import sys

from headwater.cli import commands, up
from headwater.cli.runtime import run
from headwater.common.settings import DEFAULT_PORT, ENV_DOCS, load_settings
from headwater.common.telemetry.logs import setup_logging
from headwater.common.telemetry.tracing import setup_tracing

DEFAULT_EXAMPLE = os.path.join("examples", "agent", "langgraph.json")


def _env_epilog(names: list[str]) -> str:
    return "environment:\n" + "\n".join(f"  {n:<30} {ENV_DOCS[n]}" for n in names)


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="headwater",
        description="Serve LangGraph agents: one process for development, or API, workers and memory over NATS and PostgreSQL.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_env_epilog(list(ENV_DOCS)),
    )
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser(
        "dev",
        help="API + worker in one process (in-process bus, SQLite, built-in LLM simulator)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_env_epilog(
            [
                "HEADWATER_CONFIG",
                "HEADWATER_HOST",
                "HEADWATER_PORT",
                "HEADWATER_LLM_BASE_URL",
                "HEADWATER_DATABASE_URL",
            ]
        ),
    )
    dev.add_argument(
        "--config", help="langgraph.json to serve (default: $HEADWATER_CONFIG or the example agent)"
    )
    dev.add_argument("--host", help="bind address (default: $HEADWATER_HOST or 127.0.0.1)")
    dev.add_argument("--port", type=int, help=f"port (default: $HEADWATER_PORT or {DEFAULT_PORT})")

    for name, text, extra in (
        (
            "api",
            "the API service (cluster mode: NATS + database)",
            [
                "HEADWATER_CONFIG",
                "HEADWATER_HOST",
                "HEADWATER_PORT",
                "HEADWATER_NATS_URL",
                "HEADWATER_DATABASE_URL",
                "HEADWATER_NAMESPACE",
            ],
        ),
        (
            "worker",
            "a worker (cluster mode) running the graphs",
            [
                "HEADWATER_CONFIG",
                "HEADWATER_NATS_URL",
                "HEADWATER_DATABASE_URL",
                "HEADWATER_CHECKPOINT_URL",
                "HEADWATER_LLM_BASE_URL",
                "HEADWATER_WORKER_CONCURRENCY",
                "HEADWATER_ACK_WAIT_S",
                "HEADWATER_DRAIN_TIMEOUT_S",
                "HEADWATER_NAMESPACE",
            ],
        ),
        ("memory", "the memory service", ["HEADWATER_HOST", "HEADWATER_PORT"]),
    ):
        p = sub.add_parser(
            name,
            help=text,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            epilog=_env_epilog(extra),
        )
        if name != "worker":
            p.add_argument("--host")
            p.add_argument("--port", type=int)
        p.add_argument(
            "--config", help="langgraph.json (default: $HEADWATER_CONFIG)"
        ) if name != "memory" else None

    migrate = sub.add_parser(
        "migrate",
        help="apply database migrations (and create NATS streams with --streams)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_env_epilog(["HEADWATER_DATABASE_URL", "HEADWATER_NATS_URL", "HEADWATER_NAMESPACE"]),
    )
    migrate.add_argument(
        "--streams",
        action="store_true",
        help="also create the NATS streams and the workers' consumer",
    )

    sim = sub.add_parser("simllm", help="the OpenAI-compatible LLM simulator (stands in for vLLM)")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8000)
    sim.add_argument("--model", default="headwater-sim")
    sim.add_argument("--ttft-ms", type=float, default=0.0, help="delay before the first token")
    sim.add_argument("--token-delay-ms", type=float, default=0.0, help="delay between tokens")
    sim.add_argument("--reply-tokens", type=int, default=200, help="length of generated replies")
    sim.add_argument("--rules", help="JSON file of scripted replies (see docs)")
    up.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    args = build_parser().parse_args(argv)
    if args.command == "up":
        sys.exit(up.main(args))
    overrides = {k: getattr(args, k, None) for k in ("config", "host", "port")}
    if args.command == "simllm":
        from headwater.simllm.config import SimConfig, load_rules
        from headwater.simllm.server import serve

        config = SimConfig(
            model=args.model,
            ttft_ms=args.ttft_ms,
            token_delay_ms=args.token_delay_ms,
            reply_tokens=args.reply_tokens,
        )
        if args.rules:
            import msgspec

            config = msgspec.structs.replace(config, rules=load_rules(args.rules))
        print(
            f"headwater simllm: http://{args.host}:{args.port}/v1 (simulated replies, not a model)",
            flush=True,
        )
        serve(config, args.host, args.port)
        return
    if (
        args.command == "dev"
        and not (overrides["config"] or os.environ.get("HEADWATER_CONFIG"))
        and not os.path.exists(DEFAULT_EXAMPLE)
    ):
        sys.exit(
            "headwater dev: no langgraph.json given (--config or HEADWATER_CONFIG) and no examples/agent here"
        )
    settings = load_settings(**overrides)
    setup_logging(
        settings.log_level,
        settings.log_format or ("text" if args.command in ("dev", "migrate") else "json"),
    )
    setup_tracing(f"headwater-{args.command}")
    if args.command == "dev":
        run(
            lambda: commands.run_dev(
                settings, start_simllm=not os.environ.get("HEADWATER_LLM_BASE_URL")
            )
        )
    elif args.command == "api":
        run(lambda: commands.run_api(settings))
    elif args.command == "worker":
        run(lambda: commands.run_worker(settings))
    elif args.command == "memory":
        run(lambda: commands.run_memory(settings))
    elif args.command == "migrate":
        run(lambda: commands.run_migrate(settings, streams=args.streams))


if __name__ == "__main__":
    main()

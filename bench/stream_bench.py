"""Time to first token and tokens/s through Headwater, beside the same graph in-process.

Everything runs side by side in one invocation against one LLM simulator at zero delay
(200-token replies), so the ratios are comparable on a noisy machine:

- raw:     the simulator's stream read with httpx (the floor of any client)
- inproc:  the example agent's graph.astream(stream_mode="messages") in this process
- dev:     ``headwater dev`` (API + worker in one process, in-process bus, SQLite)
- dev-traced: the same with tracing on (every span exported to a JSON-lines file)
- nats:    ``headwater api`` + ``headwater worker`` over NATS JetStream and PostgreSQL

Each mode runs single streams (``--repeat``), then every concurrency of ``--levels`` (TTFT
p50/p99, aggregate tokens/s, server CPU per run, peak RSS). ``--scale 200,500,1000`` adds the
scale test: N streams opened at once against a paced simulator (``--scale-tokens`` tokens,
``--scale-itl-ms`` apart), reporting completed streams, errors, TTFT p50/p99, peak RSS and
server CPU per token. ``--compare REF`` runs the Headwater modes of commit REF too (a
``git worktree`` of it, on PYTHONPATH), each right after the same mode of this checkout.

Usage: uv run python bench/stream_bench.py [--repeat 5] [--levels 1,10,50]
           [--modes raw,inproc,dev,nats] [--scale 200,500,1000] [--compare REF]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.procstat import cpu_seconds, rss_mb
from tests.e2e.harness import Deployment, start_cluster, start_dev
from tests.services import NatsServer, create_database, drop_database, free_port, wait_for_port

PROMPT = "benchmark: tell me a long story"
TOKENS = 200


@dataclass
class Sample:
    ttft_ms: float
    tokens: int
    seconds: float
    streaming_s: float = 0.0  # first token → last token


@dataclass
class Level:
    concurrency: int
    ttft_p50_ms: float
    ttft_p99_ms: float
    aggregate_tokens_per_s: float
    server_cpu_ms_per_run: float = 0.0
    server_peak_rss_mb: float = 0.0


@dataclass
class Result:
    mode: str
    single_ttft_ms: float
    single_tokens_per_s: float
    single_streaming_tokens_per_s: float
    concurrent_ttft_p50_ms: float
    concurrent_aggregate_tokens_per_s: float
    levels: list[Level] = field(default_factory=list)


@dataclass
class Scale:
    mode: str
    streams: int
    completed: int
    errors: int
    ttft_p50_ms: float
    ttft_p99_ms: float
    api_peak_rss_mb: float
    server_cpu_ms_per_token: float
    wall_s: float
    error_kinds: dict[str, int] = field(default_factory=dict)
    answered_503: int = 0


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of values; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def sse_tokens(response: httpx.Response, token_prefix: bytes) -> AsyncIterator[None]:
    """Yield once per SSE event whose data line starts a token."""
    async for line in response.aiter_lines():
        if line.startswith(token_prefix.decode()):
            yield None


def raw_runner(sim_url: str) -> Callable[[httpx.AsyncClient], Awaitable[Sample]]:
    async def run(http: httpx.AsyncClient) -> Sample:
        body = {
            "model": "headwater-sim",
            "stream": True,
            "messages": [{"role": "user", "content": PROMPT}],
        }
        start = time.perf_counter()
        first = last = 0.0
        tokens = 0
        async with http.stream("POST", f"{sim_url}/chat/completions", json=body) as response:
            async for line in response.aiter_lines():
                if (
                    line.startswith("data: {")
                    and '"content":"' in line
                    and '"content":""' not in line
                ):
                    tokens += 1
                    last = time.perf_counter()
                    if tokens == 1:
                        first = last
        return Sample((first - start) * 1000, tokens, time.perf_counter() - start, last - first)

    return run


def headwater_runner(base_url: str) -> Callable[[httpx.AsyncClient], Awaitable[Sample]]:
    async def run(http: httpx.AsyncClient) -> Sample:
        body = {
            "assistant_id": "agent",
            "input": {"messages": [{"role": "user", "content": PROMPT}]},
            "stream_mode": ["messages-tuple"],
        }
        start = time.perf_counter()
        first = last = 0.0
        tokens = 0
        async with http.stream("POST", f"{base_url}/runs/stream", json=body) as response:
            async for line in response.aiter_lines():
                if line == "event: messages":
                    tokens += 1
                    last = time.perf_counter()
                    if tokens == 1:
                        first = last
        return Sample((first - start) * 1000, tokens, time.perf_counter() - start, last - first)

    return run


def inproc_runner(sim_url: str) -> Callable[[httpx.AsyncClient], Awaitable[Sample]]:
    os.environ["HEADWATER_LLM_BASE_URL"] = sim_url
    sys.path.insert(0, str(ROOT / "examples" / "agent"))
    from agent import builder  # type: ignore[import-not-found]
    from langgraph.checkpoint.memory import InMemorySaver

    graph = builder.compile(checkpointer=InMemorySaver())

    async def run(_: httpx.AsyncClient) -> Sample:
        config = {"configurable": {"thread_id": str(uuid.uuid4())}}
        start = time.perf_counter()
        first = last = 0.0
        tokens = 0
        async for chunk, _meta in graph.astream(
            {"messages": [("user", PROMPT)]}, config, stream_mode="messages"
        ):
            if getattr(chunk, "content", ""):
                tokens += 1
                last = time.perf_counter()
                if tokens == 1:
                    first = last
        return Sample((first - start) * 1000, tokens, time.perf_counter() - start, last - first)

    return run


async def measure(
    mode: str,
    runner: Callable[[httpx.AsyncClient], Awaitable[Sample]],
    repeat: int,
    levels: list[int],
    server_pids: list[int],
) -> Result:
    limits = httpx.Limits(
        max_connections=max(levels) + 10, max_keepalive_connections=max(levels) + 10
    )
    measured: list[Level] = []
    async with httpx.AsyncClient(timeout=300, limits=limits) as http:
        await runner(http)  # warm-up
        singles = [await runner(http) for _ in range(repeat)]
        for s in singles:
            assert s.tokens >= TOKENS, f"{mode}: expected {TOKENS} tokens, got {s.tokens}"
        for concurrency in levels:
            cpu0 = cpu_seconds(server_pids)
            start = time.perf_counter()
            batch = await asyncio.gather(*(runner(http) for _ in range(concurrency)))
            wall = time.perf_counter() - start
            cpu = cpu_seconds(server_pids) - cpu0
            ttfts = [s.ttft_ms for s in batch]
            measured.append(
                Level(
                    concurrency=concurrency,
                    ttft_p50_ms=statistics.median(ttfts),
                    ttft_p99_ms=pct(ttfts, 99),
                    aggregate_tokens_per_s=sum(s.tokens for s in batch) / wall,
                    server_cpu_ms_per_run=cpu * 1000 / concurrency if server_pids else 0.0,
                    server_peak_rss_mb=rss_mb(server_pids, "VmHWM") if server_pids else 0.0,
                )
            )
    top = measured[-1]
    return Result(
        mode=mode,
        single_ttft_ms=statistics.median(s.ttft_ms for s in singles),
        single_tokens_per_s=statistics.median(s.tokens / s.seconds for s in singles),
        single_streaming_tokens_per_s=statistics.median(
            (s.tokens - 1) / s.streaming_s for s in singles
        ),
        concurrent_ttft_p50_ms=top.ttft_p50_ms,
        concurrent_aggregate_tokens_per_s=top.aggregate_tokens_per_s,
        levels=measured,
    )


async def scale(
    mode: str, base_url: str, streams: int, tokens: int, deadline: float, server_pids: list[int]
) -> Scale:
    """``streams`` stateless runs opened at once; each must bring ``tokens`` tokens and end
    without an ``error`` event before ``deadline`` seconds."""
    body = {
        "assistant_id": "agent",
        "input": {"messages": [{"role": "user", "content": PROMPT}]},
        "stream_mode": ["messages-tuple"],
    }
    limits = httpx.Limits(max_connections=streams + 10, max_keepalive_connections=streams + 10)
    ttfts: list[float] = []
    completed = errors = received = 0
    kinds: dict[str, int] = {}

    def fail(kind: str) -> None:
        nonlocal errors
        errors += 1
        kinds[kind] = kinds.get(kind, 0) + 1

    busy = 0

    async def one(http: httpx.AsyncClient) -> None:
        nonlocal completed, received, busy
        start = time.perf_counter()
        count, failure = 0, ""
        try:
            while True:  # a 503 is the server's back-pressure: wait as told, try again
                response = await http.send(
                    http.build_request("POST", f"{base_url}/runs/stream", json=body), stream=True
                )
                if response.status_code != 503:
                    break
                busy += 1
                await response.aclose()
                await asyncio.sleep(float(response.headers.get("retry-after", "1")))
            try:
                if response.status_code >= 400:
                    fail(f"HTTP {response.status_code}")
                    return
                error_next = False
                async for line in response.aiter_lines():
                    if line == "event: messages":
                        count += 1
                        if count == 1:
                            ttfts.append((time.perf_counter() - start) * 1000)
                    elif line == "event: error":
                        error_next = True
                    elif error_next and line.startswith("data: "):
                        failure = "error event " + line[6:120]
                        error_next = False
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            failure = f"cut: {type(exc).__name__}"
        received += count
        if failure:
            fail(failure)
        elif count < tokens:
            fail("short stream")
        else:
            completed += 1

    async with httpx.AsyncClient(timeout=deadline, limits=limits) as http:
        cpu0 = cpu_seconds(server_pids)
        start = time.perf_counter()
        tasks = [asyncio.create_task(one(http)) for _ in range(streams)]
        _done, pending = await asyncio.wait(tasks, timeout=deadline)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        wall = time.perf_counter() - start
        cpu = cpu_seconds(server_pids) - cpu0
    api_pids = server_pids[:1]
    return Scale(
        mode=mode,
        streams=streams,
        completed=completed,
        errors=errors,
        ttft_p50_ms=statistics.median(ttfts) if ttfts else float("nan"),
        ttft_p99_ms=pct(ttfts, 99),
        api_peak_rss_mb=rss_mb(api_pids, "VmHWM"),
        server_cpu_ms_per_token=cpu * 1000 / received if received else float("nan"),
        wall_s=wall,
        error_kinds=kinds,
        answered_503=busy,
    )


def _ratio(value: float, base: float) -> str:
    return f" ({value / base:.2f}x)"


def levels_table(results: list[Result]) -> str:
    """TTFT p50/p99, tokens/s, server CPU per run and peak RSS at every concurrency."""
    lines = [
        "| mode | C | TTFT p50 (ms) | TTFT p99 (ms) | aggregate tokens/s | server CPU per run (ms) | server peak RSS (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for level in r.levels:
            lines.append(
                f"| {r.mode} | {level.concurrency} | {level.ttft_p50_ms:.1f} | "
                f"{level.ttft_p99_ms:.1f} | {level.aggregate_tokens_per_s:,.0f} | "
                f"{level.server_cpu_ms_per_run:.0f} | {level.server_peak_rss_mb:.0f} |"
            )
    return "\n".join(lines)


def scale_table(results: list[Scale]) -> str:
    lines = [
        "| mode | streams | completed | errors | 503s (retried) | TTFT p50 (ms) | TTFT p99 (ms) | API peak RSS (MB) | server CPU per token (ms) | wall (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.mode} | {r.streams} | {r.completed} | {r.errors} | {r.answered_503} | "
            f"{r.ttft_p50_ms:.0f} | "
            f"{r.ttft_p99_ms:.0f} | {r.api_peak_rss_mb:.0f} | {r.server_cpu_ms_per_token:.2f} | "
            f"{r.wall_s:.1f} |"
        )
    return "\n".join(lines)


def table(results: list[Result], concurrency: int) -> str:
    """A Markdown table; ratios and TTFT deltas are against the in-process graph."""
    base = {r.mode: r for r in results}.get("inproc")
    lines = [
        f"| mode | TTFT, 1 run (ms) | tokens/s, 1 run | tokens/s while streaming, 1 run | TTFT p50, {concurrency} runs (ms) | aggregate tokens/s, {concurrency} runs |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        compare = base is not None and r is not base and r.mode != "raw"
        delta = f" (+{r.single_ttft_ms - base.single_ttft_ms:.1f})" if compare and base else ""
        ratio = _ratio(r.single_tokens_per_s, base.single_tokens_per_s) if compare and base else ""
        sratio = (
            _ratio(r.single_streaming_tokens_per_s, base.single_streaming_tokens_per_s)
            if compare and base
            else ""
        )
        aratio = (
            _ratio(r.concurrent_aggregate_tokens_per_s, base.concurrent_aggregate_tokens_per_s)
            if compare and base
            else ""
        )
        lines.append(
            f"| {r.mode} | {r.single_ttft_ms:.1f}{delta} | {r.single_tokens_per_s:,.0f}{ratio} | "
            f"{r.single_streaming_tokens_per_s:,.0f}{sratio} | {r.concurrent_ttft_p50_ms:.1f} | "
            f"{r.concurrent_aggregate_tokens_per_s:,.0f}{aratio} |"
        )
    return "\n".join(lines)


def reference_checkout(ref: str) -> tuple[str, str]:
    """A ``git worktree`` of ``ref`` (made once) and the PYTHONPATH that runs its code."""
    import subprocess

    sha = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    path = Path(tempfile.gettempdir()) / f"hw-bench-ref-{sha}"
    if not path.exists():
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(path), sha],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    sources = sorted(str(p) for p in path.glob("*/*/src") if (p / "headwater").is_dir())
    return sha, os.pathsep.join(sources)


def server_pids(deployment: Deployment, nats: NatsServer | None) -> list[int]:
    """The API first, then the worker(s) and nats-server: what serves the runs."""
    order = ["dev", "api", *sorted(n for n in deployment.processes if n.startswith("worker"))]
    pids = [deployment.processes[n].pid for n in order if n in deployment.processes]
    if nats is not None and nats.process is not None and deployment.kind == "cluster":
        pids.append(nats.process.pid)
    return pids


class Deployer:
    """Starts the Headwater modes (this checkout's, or REF's with ``pythonpath``)."""

    def __init__(self, sim_url: str, concurrency: int) -> None:
        self.sim_url = sim_url
        self.concurrency = concurrency
        self.nats: NatsServer | None = None
        self.databases: list[str] = []
        self.deployments: list[Deployment] = []

    def start(self, mode: str, pythonpath: str = "", sim_url: str | None = None) -> Deployment:
        sim = sim_url or self.sim_url
        extra = {"PYTHONPATH": pythonpath} if pythonpath else {}
        if mode.startswith("dev"):
            os.environ["HEADWATER_LLM_BASE_URL"] = sim
            env = {
                **extra,
                "HEADWATER_LLM_BASE_URL": sim,
                "HEADWATER_WORKER_CONCURRENCY": str(self.concurrency),
            }
            if mode == "dev-traced":  # every span written to a file, synchronously
                env["HEADWATER_TRACE_FILE"] = str(Path(tempfile.mkdtemp()) / "spans.jsonl")
            deployment = start_dev(extra_env=env)
        elif mode == "nats":
            if self.nats is None:
                self.nats = NatsServer()
                self.nats.start()
            db_url = create_database()
            self.databases.append(db_url)
            every = {
                "HEADWATER_WORKER_CONCURRENCY": str(self.concurrency),
                "HEADWATER_DB_POOL_SIZE": "20",
                "HEADWATER_DB_MAX_OVERFLOW": "40",
                **extra,
            }
            deployment = start_cluster(
                self.nats.url,
                db_url,
                f"bench{uuid.uuid4().hex[:6]}",
                workers=1,
                sim_url=sim,
                concurrency=self.concurrency,
                # every process of REF's deployment runs REF's code, its schema migration too
                process_env={"api": every, "worker0": every, "memory": extra, "migrate": extra},
            )
        else:
            raise SystemExit(f"unknown mode {mode}")
        self.deployments.append(deployment)
        return deployment

    def stop(self, deployment: Deployment) -> None:
        deployment.stop()
        self.deployments.remove(deployment)

    def close(self) -> None:
        for deployment in list(self.deployments):
            deployment.stop()
        if self.nats is not None:
            self.nats.cleanup()
        for db_url in self.databases:
            drop_database(db_url)


def simulator(tokens: int, delay_ms: float = 0.0) -> tuple[object, str]:
    import subprocess

    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "headwater.cli.main",
            "simllm",
            "--port",
            str(port),
            "--reply-tokens",
            str(tokens),
            "--token-delay-ms",
            str(delay_ms),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return process, f"http://127.0.0.1:{port}/v1"


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--levels", default="1,10,50", help="concurrencies to measure")
    parser.add_argument("--concurrency", type=int, default=0, help="(old) one level only")
    parser.add_argument("--modes", default="raw,inproc,dev,nats")
    parser.add_argument("--scale", default="", help="e.g. 200,500,1000")
    parser.add_argument("--scale-modes", default="dev,nats")
    parser.add_argument("--scale-tokens", type=int, default=20)
    parser.add_argument("--scale-itl-ms", type=float, default=500.0)
    parser.add_argument("--scale-deadline", type=float, default=180.0)
    parser.add_argument("--compare", default="", help="a commit to run side by side")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "stream_bench.json"))
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    levels = [args.concurrency] if args.concurrency else [int(c) for c in args.levels.split(",")]
    scales = [int(n) for n in args.scale.split(",") if n]
    ref_sha, ref_path = reference_checkout(args.compare) if args.compare else ("", "")

    sim, sim_url = simulator(TOKENS)
    paced = None
    deployer = Deployer(sim_url, max([*levels, *scales]))
    results: list[Result] = []
    scaled: list[Scale] = []
    try:
        for mode in modes:
            variants = [(mode, "")]
            if ref_sha and mode in ("dev", "nats"):
                variants.append((f"{mode}@{ref_sha}", ref_path))
            for name, pythonpath in variants:
                pids: list[int] = []
                deployment = None
                if mode == "raw":
                    runner = raw_runner(sim_url)
                elif mode == "inproc":
                    runner = inproc_runner(sim_url)
                else:
                    deployment = deployer.start(mode, pythonpath)
                    pids = server_pids(deployment, deployer.nats)
                    runner = headwater_runner(deployment.base_url)
                result = await measure(name, runner, args.repeat, levels, pids)
                results.append(result)
                print(json.dumps(asdict(result)), flush=True)
                if deployment is not None:
                    deployer.stop(deployment)
        if scales:
            paced, paced_url = simulator(args.scale_tokens, args.scale_itl_ms)
            for mode in args.scale_modes.split(","):
                variants = [(mode, "")]
                if ref_sha:
                    variants.append((f"{mode}@{ref_sha}", ref_path))
                for name, pythonpath in variants:
                    for streams in scales:
                        deployment = deployer.start(mode, pythonpath, sim_url=paced_url)
                        pids = server_pids(deployment, deployer.nats)
                        outcome = await scale(
                            name,
                            deployment.base_url,
                            streams,
                            args.scale_tokens,
                            args.scale_deadline,
                            pids,
                        )
                        scaled.append(outcome)
                        print(json.dumps(asdict(outcome)), flush=True)
                        deployer.stop(deployment)
    finally:
        deployer.close()
        for process in (sim, paced):
            if process is not None:
                process.terminate()  # type: ignore[attr-defined]
                process.wait()  # type: ignore[attr-defined]

    print(table(results, levels[-1]))
    print()
    print(levels_table(results))
    if scaled:
        print()
        print(scale_table(scaled))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {"results": [asdict(r) for r in results], "scale": [asdict(r) for r in scaled]},
            indent=2,
        )
    )


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())

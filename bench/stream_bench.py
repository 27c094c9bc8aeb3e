"""Time to first token and tokens/s through Headwater, beside the same graph in-process.

Everything runs side by side in one invocation against one LLM simulator at zero delay
(200-token replies), so the ratios are comparable on a noisy machine:

- raw:     the simulator's stream read with httpx (the floor of any client)
- inproc:  the example agent's graph.astream(stream_mode="messages") in this process
- dev:     ``headwater dev`` (API + worker in one process, in-process bus, SQLite)
- dev-traced: the same with tracing on (every span exported to a JSON-lines file)
- nats:    ``headwater api`` + ``headwater worker`` over NATS JetStream and PostgreSQL

Usage: uv run python bench/stream_bench.py [--repeat 5] [--concurrency 50] [--modes raw,inproc,dev,nats]
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
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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
class Result:
    mode: str
    single_ttft_ms: float
    single_tokens_per_s: float
    single_streaming_tokens_per_s: float
    concurrent_ttft_p50_ms: float
    concurrent_aggregate_tokens_per_s: float


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
    concurrency: int,
) -> Result:
    limits = httpx.Limits(
        max_connections=concurrency + 10, max_keepalive_connections=concurrency + 10
    )
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        await runner(http)  # warm-up
        singles = [await runner(http) for _ in range(repeat)]
        for s in singles:
            assert s.tokens >= TOKENS, f"{mode}: expected {TOKENS} tokens, got {s.tokens}"
        start = time.perf_counter()
        batch = await asyncio.gather(*(runner(http) for _ in range(concurrency)))
        wall = time.perf_counter() - start
    return Result(
        mode=mode,
        single_ttft_ms=statistics.median(s.ttft_ms for s in singles),
        single_tokens_per_s=statistics.median(s.tokens / s.seconds for s in singles),
        single_streaming_tokens_per_s=statistics.median(
            (s.tokens - 1) / s.streaming_s for s in singles
        ),
        concurrent_ttft_p50_ms=statistics.median(s.ttft_ms for s in batch),
        concurrent_aggregate_tokens_per_s=sum(s.tokens for s in batch) / wall,
    )


def _ratio(value: float, base: float) -> str:
    return f" ({value / base:.2f}x)"


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


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--modes", default="raw,inproc,dev,nats")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "stream_bench.json"))
    args = parser.parse_args()
    modes = args.modes.split(",")

    import subprocess

    sim_port = free_port()
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "headwater.cli.main",
            "simllm",
            "--port",
            str(sim_port),
            "--reply-tokens",
            str(TOKENS),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sim_url = f"http://127.0.0.1:{sim_port}/v1"
    deployments: list[Deployment] = []
    nats: NatsServer | None = None
    db_url = ""
    results: list[Result] = []
    try:
        wait_for_port(sim_port)
        for mode in modes:
            if mode == "raw":
                runner = raw_runner(sim_url)
            elif mode == "inproc":
                runner = inproc_runner(sim_url)
            elif mode in ("dev", "dev-traced"):
                os.environ["HEADWATER_LLM_BASE_URL"] = sim_url
                extra = {
                    "HEADWATER_LLM_BASE_URL": sim_url,
                    "HEADWATER_WORKER_CONCURRENCY": str(args.concurrency),
                }
                if mode == "dev-traced":  # every span written to a file, synchronously
                    extra["HEADWATER_TRACE_FILE"] = str(Path(tempfile.mkdtemp()) / "spans.jsonl")
                deployment = start_dev(extra_env=extra)
                deployments.append(deployment)
                runner = headwater_runner(deployment.base_url)
            elif mode == "nats":
                nats = NatsServer()
                nats.start()
                db_url = create_database()
                deployment = start_cluster(
                    nats.url, db_url, f"bench{uuid.uuid4().hex[:6]}", workers=1, sim_url=sim_url
                )
                deployments.append(deployment)
                runner = headwater_runner(deployment.base_url)
            else:
                raise SystemExit(f"unknown mode {mode}")
            result = await measure(mode, runner, args.repeat, args.concurrency)
            results.append(result)
            print(json.dumps(asdict(result)), flush=True)
    finally:
        for deployment in deployments:
            deployment.stop()
        if nats is not None:
            nats.cleanup()
        if db_url:
            drop_database(db_url)
        sim.terminate()
        sim.wait()

    print(table(results, args.concurrency))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    asyncio.run(main())

"""The lean model client beside ``ChatOpenAI``, each inside the same one-node LangGraph graph.

Both graphs stream ``stream_mode="messages"`` from one LLM simulator (a separate process, zero
delay, 200-token replies) in this process, interleaved round by round so the ratios are
comparable on a noisy machine. Reported per client and concurrency: tokens/s (aggregate),
time to first token p50, and this process's CPU per token (what a worker would spend).

Usage: uv run python bench/llm_client_bench.py [--rounds 3] [--concurrency 1,10,50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from langchain_openai import ChatOpenAI
from langgraph.graph import START, MessagesState, StateGraph

from headwater.llm import ChatOpenAICompatible
from tests.services import free_port, wait_for_port

PROMPT = "benchmark: tell me a long story"
TOKENS = 200


@dataclass
class Measure:
    tokens_per_s: float
    ttft_p50_ms: float
    cpu_us_per_token: float


def graph_with(model: Any) -> Any:
    async def chat(state: MessagesState) -> dict[str, object]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    return StateGraph(MessagesState).add_node("chat", chat).add_edge(START, "chat").compile()


def clients(sim_url: str) -> dict[str, Callable[[], Any]]:
    return {
        "ChatOpenAI": lambda: ChatOpenAI(
            base_url=sim_url, api_key="unused", model="headwater-sim", stream_usage=True
        ),
        "lean": lambda: ChatOpenAICompatible(
            base_url=sim_url, api_key="unused", model="headwater-sim"
        ),
    }


async def one_run(graph: Any) -> tuple[float, int]:
    start = time.perf_counter()
    first = 0.0
    tokens = 0
    async for chunk, _meta in graph.astream(
        {"messages": [("user", PROMPT)]}, stream_mode="messages"
    ):
        if chunk.content:
            tokens += 1
            if not first:
                first = time.perf_counter() - start
    return first, tokens


async def measure(graph: Any, concurrency: int) -> Measure:
    cpu = time.process_time()
    start = time.perf_counter()
    results = await asyncio.gather(*(one_run(graph) for _ in range(concurrency)))
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    tokens = sum(n for _, n in results)
    if tokens != concurrency * TOKENS:
        raise RuntimeError(f"expected {concurrency * TOKENS} tokens, got {tokens}")
    return Measure(
        tokens_per_s=tokens / wall,
        ttft_p50_ms=statistics.median(t for t, _ in results) * 1000,
        cpu_us_per_token=cpu / tokens * 1e6,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", default="1,10,50")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]

    port = free_port()
    sim = subprocess.Popen(
        [sys.executable, "-m", "headwater.cli.main", "simllm", "--port", str(port)],
        env={**os.environ, "HEADWATER_LOG_LEVEL": "warning"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        sim_url = f"http://127.0.0.1:{port}/v1"
        graphs = {name: graph_with(make()) for name, make in clients(sim_url).items()}
        for graph in graphs.values():  # warm up connections and imports
            await measure(graph, 2)
        samples: dict[tuple[str, int], list[Measure]] = {}
        for _ in range(args.rounds):
            for level in levels:
                for name, graph in graphs.items():
                    samples.setdefault((name, level), []).append(await measure(graph, level))
    finally:
        sim.terminate()
        sim.wait(10)

    print(
        f"| client | C | tokens/s | × ChatOpenAI | TTFT p50 ms | CPU µs/token | rounds={args.rounds}"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for level in levels:
        base = statistics.median(m.tokens_per_s for m in samples[("ChatOpenAI", level)])
        for name in graphs:
            runs = samples[(name, level)]
            rate = statistics.median(m.tokens_per_s for m in runs)
            ttft = statistics.median(m.ttft_p50_ms for m in runs)
            cpu = statistics.median(m.cpu_us_per_token for m in runs)
            print(
                f"| {name} | {level} | {rate:,.0f} | {rate / base:.2f}× | {ttft:.1f} | {cpu:.0f} |"
            )


if __name__ == "__main__":
    asyncio.run(main())

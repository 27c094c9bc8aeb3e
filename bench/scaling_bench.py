"""Throughput against the number of workers: one API, NATS, PostgreSQL and 1 → 4 workers.

The simulator answers with a realistic pace (50 ms to the first token, 20 ms between tokens,
60-token replies); each worker runs at most 4 runs at once, so runs queue in JetStream and
more workers drain the queue faster. Usage:

    uv run python bench/scaling_bench.py [--runs 48] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.harness import start_cluster
from tests.services import NatsServer, create_database, drop_database, free_port, wait_for_port

BODY = {
    "assistant_id": "agent",
    "input": {"messages": [{"role": "user", "content": "tell me something"}]},
}


async def one(http: httpx.AsyncClient, base_url: str) -> int:
    answer = await http.post(f"{base_url}/runs/wait", json=BODY)
    answer.raise_for_status()
    return len(answer.json()["messages"][-1]["content"].split())


async def measure(base_url: str, runs: int) -> tuple[float, int]:
    async with httpx.AsyncClient(
        timeout=300, limits=httpx.Limits(max_connections=runs + 4)
    ) as http:
        await one(http, base_url)
        start = time.perf_counter()
        tokens = sum(await asyncio.gather(*(one(http, base_url) for _ in range(runs))))
        return time.perf_counter() - start, tokens


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=48)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    sim_port = free_port()
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "headwater.cli.main",
            "simllm",
            "--port",
            str(sim_port),
            "--ttft-ms",
            "50",
            "--token-delay-ms",
            "20",
            "--reply-tokens",
            "60",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rows = []
    try:
        wait_for_port(sim_port)
        for count in (int(w) for w in args.workers.split(",")):
            nats = NatsServer()
            nats.start()
            database = create_database()
            deployment = start_cluster(
                nats.url,
                database,
                f"scale{uuid.uuid4().hex[:6]}",
                workers=count,
                sim_url=f"http://127.0.0.1:{sim_port}/v1",
                concurrency=4,
            )
            try:
                seconds, tokens = asyncio.run(measure(deployment.base_url, args.runs))
            finally:
                deployment.stop()
                nats.cleanup()
                drop_database(database)
            rows.append((count, seconds, args.runs / seconds, tokens / seconds))
            print(f"{count} workers: {args.runs} runs in {seconds:.1f} s", flush=True)
    finally:
        sim.terminate()
        sim.wait()
    base = rows[0][2]
    print("\n| workers | wall time (s) | runs/s | tokens/s | vs 1 worker |\n|---|---|---|---|---|")
    for count, seconds, rate, tokens in rows:
        print(f"| {count} | {seconds:.1f} | {rate:.2f} | {tokens:,.0f} | {rate / base:.2f}x |")


if __name__ == "__main__":
    main()

"""300 runs at once through both APIs, each one checked like a fault try."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.faults.cluster import SHORT, SHORT_TOKENS, FaultCluster
from tests.faults.tries import ClientStreamGap, problems_of, stream_run

pytestmark = [pytest.mark.fault, pytest.mark.timeout(240)]
RUNS = 300


async def test_300_concurrent_runs(cluster: FaultCluster, figures: dict[str, str]) -> None:
    apis = list(cluster.api_urls.values())
    # no keep-alive: a pooled connection the server is closing would break a client, not a run
    limits = httpx.Limits(max_connections=RUNS + 50, max_keepalive_connections=0)
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0), limits=limits) as http:
        runs = await asyncio.gather(
            *(stream_run(apis[i % 2 :] + apis[: i % 2], SHORT, http=http) for i in range(RUNS)),
            return_exceptions=True,
        )
    figures["wall (s)"] = f"{time.monotonic() - started:.1f}"
    broken = [r for r in runs if isinstance(r, BaseException)]
    assert not broken, f"{len(broken)} clients failed: {broken[:3]}"
    checks = asyncio.Semaphore(32)

    async def check(run: object) -> list[str]:
        async with checks:
            return await problems_of(apis[0], run, reply_tokens=SHORT_TOKENS)  # type: ignore[arg-type]

    problems = await asyncio.gather(*(check(run) for run in runs))
    bad = [p for p in problems if p]
    server_side = [p for p in bad if any(not line.startswith("client") for line in p)]
    figures["runs good"] = f"{RUNS - len(bad)}/{RUNS}"
    figures["server-side problems"] = str(len(server_side))
    figures["rejoins"] = str(sum(r.rejoins for r in runs if not isinstance(r, BaseException)))
    redelivered = [
        r.run_id
        for r in runs
        if not isinstance(r, BaseException)
        and any(f.event == "metadata" and f.data.get("attempt", 1) > 1 for f in r.frames)
    ]
    figures["runs redelivered"] = str(len(redelivered))
    assert not redelivered, "a live worker's run was redelivered (heartbeats too late)"
    assert not server_side, f"{len(server_side)} bad runs, e.g. {server_side[:3]}"
    if bad:
        raise ClientStreamGap(f"{len(bad)} client streams ended early, e.g. {bad[:2]}")

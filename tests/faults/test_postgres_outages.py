"""PostgreSQL unreachable for 10 s mid-run; every backend terminated (AdminShutdown)."""

from __future__ import annotations

import asyncio
import time

import httpx
import psycopg
import pytest

from tests.faults.cluster import LONG, LONG_TOKENS, SHORT, SHORT_TOKENS, FaultCluster
from tests.faults.tries import Frame, check_try, stream_run
from tests.services import admin_dsn

pytestmark = [pytest.mark.fault, pytest.mark.timeout(180)]
OUTAGE_S = 10.0


async def _probe(cluster: FaultCluster, thread_id: str) -> dict[str, int]:
    """What the APIs answer while the database is away: 503s, never a 500."""
    answers: dict[str, int] = {}
    async with httpx.AsyncClient(timeout=20.0) as http:
        for name, url in cluster.api_urls.items():
            ready = await http.get(f"{url}/readyz")
            answers[f"{name} /readyz"] = ready.status_code
            assert ready.json()["checks"] == {"bus": "ok", "database": "unavailable"}
            answers[f"{name} GET thread"] = (
                await http.get(f"{url}/threads/{thread_id}")
            ).status_code
            answers[f"{name} POST threads"] = (
                await http.post(f"{url}/threads", json={})
            ).status_code
            answers[f"{name} search runs"] = (
                await http.get(f"{url}/threads/{thread_id}/runs")
            ).status_code
    return answers


async def test_postgres_10s_outage_mid_run(cluster: FaultCluster, figures: dict[str, str]) -> None:
    reached = asyncio.Event()
    tokens = 0

    def on_frame(frame: Frame) -> None:
        nonlocal tokens
        tokens += frame.event == "messages"
        if tokens == 20:
            reached.set()

    started = time.monotonic()
    streaming = asyncio.create_task(
        stream_run(list(cluster.api_urls.values()), LONG, on_frame=on_frame)
    )
    await asyncio.wait_for(reached.wait(), 30)
    cluster.pg.cut()
    cut_at = time.monotonic()
    try:
        await asyncio.sleep(1.0)
        answers = await _probe(cluster, "00000000-0000-0000-0000-000000000000")
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - cut_at)))
    finally:
        cluster.pg.restore()
    figures["outage (s)"] = f"{time.monotonic() - cut_at:.1f}"
    run = await streaming
    figures["run (s)"] = f"{time.monotonic() - started:.1f}"
    figures["rejoins"] = str(run.rejoins)
    figures["answers during the outage"] = ", ".join(sorted({str(v) for v in answers.values()}))
    assert set(answers.values()) == {503}, answers
    await check_try(cluster.api, run, reply_tokens=LONG_TOKENS)


async def test_runs_after_every_backend_is_terminated(
    cluster: FaultCluster, figures: dict[str, str]
) -> None:
    """``pg_terminate_backend`` sends AdminShutdown to every pooled connection, as a restart
    does; the pools drop them and the next runs all succeed."""
    name = cluster.database_url.rsplit("/", 1)[1]
    with psycopg.connect(admin_dsn(), autocommit=True) as conn:
        killed = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
            (name,),
        ).fetchone()
    figures["connections terminated"] = str(killed[0] if killed else 0)
    apis = list(cluster.api_urls.values())
    runs = await asyncio.gather(*(stream_run(apis, SHORT) for _ in range(10)))
    results = await asyncio.gather(
        *(check_try(cluster.api, run, reply_tokens=SHORT_TOKENS) for run in runs),
        return_exceptions=True,
    )
    failed = [r for r in results if isinstance(r, BaseException)]
    figures["runs good"] = f"{len(runs) - len(failed)}/{len(runs)}"
    assert not failed, failed[:3]

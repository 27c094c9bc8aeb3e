"""Streaming runs make way for starting ones, for a bounded time."""

from __future__ import annotations

import asyncio
import time

import pytest

from headwater.worker.start_priority import RunStarts

pytestmark = pytest.mark.unit


async def test_a_streaming_run_waits_until_the_start_is_done() -> None:
    starts = RunStarts(max_pause_s=5.0, start_budget_s=5.0)
    token = starts.begin()
    assert starts.starting == 1
    waiting = asyncio.create_task(starts.make_way())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    starts.started(token)
    starts.started(token)  # idempotent
    await asyncio.wait_for(waiting, 1.0)
    assert starts.starting == 0


async def test_the_pause_and_the_start_are_bounded() -> None:
    starts = RunStarts(max_pause_s=0.02, start_budget_s=0.1)
    starts.begin()
    began = time.perf_counter()
    await starts.make_way()
    assert 0.015 <= time.perf_counter() - began < 0.5
    await asyncio.sleep(0.15)  # the budget ran out: no longer counted as starting
    assert starts.starting == 0
    began = time.perf_counter()
    await starts.make_way()
    assert time.perf_counter() - began < 0.01

"""Ctrl-C through ``uv run``: the terminal's SIGINT and uv's forwarded copy are one request to
stop (a clean shutdown, exit 0); a second Ctrl-C after the window exits at once (130)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

PROGRAM = """
import asyncio, os, signal, sys
from headwater.cli.runtime import REPEAT_WINDOW_S, run, stop_on_signals

async def main() -> None:
    stop = stop_on_signals()
    gap = float(sys.argv[1]) * REPEAT_WINDOW_S
    os.kill(os.getpid(), signal.SIGINT)           # the terminal's
    await asyncio.sleep(gap)
    os.kill(os.getpid(), signal.SIGINT)           # uv run's copy, or a second Ctrl-C
    await asyncio.sleep(0.3)
    assert stop.is_set()
    print("shut down cleanly")

run(main)
"""


@pytest.mark.parametrize(("gap", "code"), [(0.2, 0), (1.5, 130)], ids=["echo", "second"])
def test_a_repeated_sigint_is_one_ctrl_c_within_the_window(gap: float, code: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(gap)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == code, done.stderr
    assert ("shut down cleanly" in done.stdout) == (code == 0)
    assert ("exiting without finishing the shutdown" in done.stderr) == (code == 130)

"""Running things on the event loop: uvloop when present, logging, signals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Coroutine
from typing import Any

import uvicorn

from headwater.cli.startup_error import StartupError

log = logging.getLogger("headwater")


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``main`` on uvloop if installed, else the default loop."""
    try:
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main())


# A terminal's Ctrl-C reaches every process of the foreground group, and `uv run` (README:
# `bash scripts/dev.sh`, `uv run headwater …`) forwards it to its child ~0.2 s later: one key
# press, two SIGINTs. A repeat within this window is that echo, not a second Ctrl-C.
REPEAT_WINDOW_S = 1.0


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT; a second signal (after :data:`REPEAT_WINDOW_S`)
    exits at once."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    first: list[float] = []

    def on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            if loop.time() - first[0] < REPEAT_WINDOW_S:
                log.debug("%s again within %.1f s: the same Ctrl-C", sig.name, REPEAT_WINDOW_S)
                return
            log.warning("%s again: exiting without finishing the shutdown", sig.name)
            os._exit(128 + sig.value)
        log.info("%s: shutting down", sig.name)
        first.append(loop.time())
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    return stop


async def serve(server: uvicorn.Server, stop: asyncio.Event) -> None:
    """Run a uvicorn server until it ends or ``stop`` is set.

    Signals are ours (:func:`stop_on_signals`), not uvicorn's: uvicorn re-raises a captured
    SIGINT after shutting down, which ends the process with a KeyboardInterrupt traceback.
    """
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if not task.done():
        server.should_exit = True
    try:
        await task
    except SystemExit as exc:  # uvicorn exits when the app's start-up fails; it logged why
        raise StartupError(
            f"the server on {server.config.host}:{server.config.port} did not start "
            "(its start-up failed; see the log above)"
        ) from exc


async def serve_in_background(server: uvicorn.Server) -> tuple[asyncio.Task[None], int]:
    """Start ``server`` (which should bind port 0) and return its task and bound port."""
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
            raise RuntimeError("the server did not start")
        await asyncio.sleep(0.01)
    return task, int(server.servers[0].sockets[0].getsockname()[1])

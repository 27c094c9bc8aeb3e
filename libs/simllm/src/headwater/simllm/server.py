"""Running the simulator: blocking, or as a task inside another program (``headwater dev``)."""

from __future__ import annotations

import asyncio
import contextlib

import uvicorn

from headwater.simllm.app import create_app
from headwater.simllm.config import SimConfig


def _config(config: SimConfig, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(config),
        host=host,
        port=port,
        loop="auto",
        http="auto",
        log_level="warning",
        lifespan="on",
    )


def serve(config: SimConfig, host: str, port: int) -> None:
    """Serve ``config``'s simulator on ``host:port`` until interrupted (blocking)."""
    uvicorn.Server(_config(config, host, port)).run()


async def serve_in_background(
    config: SimConfig, host: str, port: int
) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    """Start serving on the running loop; return the server, its task and the bound port.

    ``port`` may be 0 (an ephemeral port). Stop with ``server.should_exit = True`` and await
    the task.
    """
    server = uvicorn.Server(_config(config, host, port))
    server.config.loop = "none"
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]  # the host program owns signals
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
            raise RuntimeError("the LLM simulator did not start")
        await asyncio.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    return server, task, int(bound)

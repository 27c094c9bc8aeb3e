"""The memory service: the LangGraph Store API (``/store/…``) over the official store.

The caller's identity arrives from the API in ``x-headwater-owner``; every namespace is scoped
under it, so no user reads another's items. Only callers with the service token (the API and
workers) are believed (:mod:`headwater.memory.trust`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
from litestar import Litestar
from litestar.plugins import InitPluginProtocol

from headwater.common.settings import Settings
from headwater.common.telemetry.tracing import tracing_configured
from headwater.memory import health, memories, routes
from headwater.memory.error_handlers import EXCEPTION_HANDLERS
from headwater.memory.options import StoreOptions, store_options
from headwater.memory.service import StoreService
from headwater.memory.store import open_backend
from headwater.memory.trust import service_trust

log = logging.getLogger(__name__)


def tracing_plugins() -> list[InitPluginProtocol]:
    """Server spans (parent from the caller's ``traceparent``) when tracing is configured."""
    if not tracing_configured():
        return []
    from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

    config: Any = OpenTelemetryConfig(
        exclude=["/metrics", "/healthz", "/readyz", "/ok"], exclude_spans=["receive", "send"]
    )
    return [OpenTelemetryPlugin(config)]


def create_app(
    settings: Settings, *, setup: bool = False, options: StoreOptions | None = None
) -> Litestar:
    """Build the memory service; ``setup`` creates the store's tables (dev, migrate).

    ``options`` default to langgraph.json's ``store`` section and the embeddings settings.
    """
    resolved = store_options(settings) if options is None else options

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            backend = await stack.enter_async_context(open_backend(settings, resolved, setup=setup))
            await backend.start_sweeper(resolved.sweep_interval_minutes)
            stack.push_async_callback(backend.stop_sweeper)
            app.state.service = StoreService(backend, resolved)
            app.state.settings = settings
            app.state.llm = None
            if settings.llm_base_url:
                app.state.llm = await stack.enter_async_context(
                    httpx.AsyncClient(base_url=settings.llm_base_url, timeout=60)
                )
            log.info(
                "memory store ready: %s search, TTL sweep every %g min",
                f"semantic ({resolved.index.model})" if resolved.index else "full-text",
                resolved.sweep_interval_minutes,
            )
            yield

    return Litestar(
        route_handlers=[*routes.ROUTES, *memories.ROUTES, *health.ROUTES],
        middleware=service_trust(settings.service_token),
        lifespan=[lifespan],
        plugins=tracing_plugins(),
        exception_handlers=EXCEPTION_HANDLERS,
        logging_config=None,
    )

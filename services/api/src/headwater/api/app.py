"""The API application factory."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

import httpx
from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from headwater.api.assistants.controller import AssistantsController
from headwater.api.assistants.service import register_system_assistants
from headwater.api.auth.custom import CustomAuth
from headwater.api.auth.middleware import ApiKeys, authentication, build_authenticator
from headwater.api.console import console_routes
from headwater.api.crons.controller import CronsController
from headwater.api.crons.scheduler import scheduling
from headwater.api.fronts.chat_run_events import ChatRunEventsController
from headwater.api.fronts.chat_socket import chat_socket
from headwater.api.fronts.debug_stream import DebugStreamController
from headwater.api.fronts.openai_chat import OpenAIController
from headwater.api.fronts.simple_runs import SimpleRunsController
from headwater.api.fronts.transcription import TranscriptionController, transcription_upstream
from headwater.api.ops import OpsController
from headwater.api.runs.controller import ThreadRunsController
from headwater.api.runs.service import RunService
from headwater.api.runs.stateless import StatelessRunsController
from headwater.api.shared.context import ApiContext
from headwater.api.shared.version import HEADWATER_VERSION
from headwater.api.store.proxy import ROUTES as STORE_ROUTES
from headwater.api.system.dependencies import DEPENDENCIES
from headwater.api.system.docs import docs_assets, docs_ui
from headwater.api.system.exception_handlers import EXCEPTION_HANDLERS
from headwater.api.system.hygiene import refuse_bad_input
from headwater.api.system.meta import ROUTES
from headwater.api.system.observability import http_metrics, metrics, tracing_plugins
from headwater.api.system.security import add_security_headers, cors_config
from headwater.api.threads.controller import ThreadsController
from headwater.api.threads.maintenance_controller import ThreadMaintenanceController
from headwater.api.threads.stream import ThreadStreamController
from headwater.api.threads.ttl import sweeping
from headwater.common.bus import Bus
from headwater.common.bus.nats import NatsBus
from headwater.common.db.engine import make_engine, make_sessionmaker
from headwater.common.graph_config import load_project
from headwater.common.settings import Settings
from headwater.common.webhooks import webhook_policy

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SharedResources:
    """Resources another component of the same process already owns (``headwater dev``)."""

    bus: Bus
    engine: AsyncEngine


def _console_auth(authenticator: object) -> Literal["none", "apikey", "jwt"]:
    """The credential the console asks for: custom auth handlers read a bearer token in the
    usual setup, so they get the JWT prompt."""
    if authenticator is None:
        return "none"
    return "apikey" if isinstance(authenticator, ApiKeys) else "jwt"


def create_app(settings: Settings, shared: SharedResources | None = None) -> Litestar:
    """Build the API. Without ``shared``, the lifespan connects to NATS and the database."""
    authenticator = build_authenticator(settings)
    custom_auth = authenticator if isinstance(authenticator, CustomAuth) else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if shared is None:
                engine = make_engine(
                    settings.database_url,
                    pool_size=settings.db_pool_size,
                    max_overflow=settings.db_max_overflow,
                    pool_timeout=settings.db_pool_timeout_s,
                )
                stack.push_async_callback(engine.dispose)
                bus: Bus = NatsBus.from_settings(settings, "headwater-api")
                await bus.start()
                stack.push_async_callback(bus.close)
            else:
                engine, bus = shared.engine, shared.bus
            project = load_project(settings.config)
            graph_ids = list(project.graphs)
            ctx = ApiContext(
                settings=settings,
                bus=bus,
                sessions=make_sessionmaker(engine),
                graph_ids=graph_ids,
                custom_auth=custom_auth,
                webhook_policy=webhook_policy(project.raw),
            )
            if settings.memory_url:
                ctx.memory = httpx.AsyncClient(
                    base_url=settings.memory_url, timeout=settings.request_timeout_s
                )
                stack.push_async_callback(ctx.memory.aclose)
            try:
                async with ctx.sessions.begin() as session:
                    await register_system_assistants(session, graph_ids)
            except IntegrityError:
                log.info("system assistants registered concurrently by another replica")
            app.state.ctx = ctx
            runs = RunService.of(ctx)  # what the background tasks use: admission, bus, sessions
            await stack.enter_async_context(scheduling(runs))
            await stack.enter_async_context(sweeping(runs))
            yield

    return Litestar(
        route_handlers=[
            *ROUTES,
            AssistantsController,
            ThreadsController,
            ThreadStreamController,
            ThreadMaintenanceController,
            ThreadRunsController,
            StatelessRunsController,
            CronsController,
            OpsController,
            OpenAIController,
            SimpleRunsController,
            ChatRunEventsController,
            DebugStreamController,
            TranscriptionController,
            chat_socket,
            metrics,
            *STORE_ROUTES,
            docs_assets(),
            console_routes(_console_auth(authenticator), settings.traces_url),
        ],
        middleware=[http_metrics, authentication(authenticator)],
        before_request=refuse_bad_input,
        before_send=[add_security_headers],
        plugins=tracing_plugins(),
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan, transcription_upstream(settings)],
        cors_config=cors_config(settings),
        openapi_config=OpenAPIConfig(
            title="Headwater",
            version=HEADWATER_VERSION,
            description="LangGraph Server API, served by Headwater",
            path="/docs",
            render_plugins=[docs_ui()],
        ),
        debug=False,
        logging_config=None,  # logging is configured once, by the CLI
    )

"""What handlers receive, by parameter name, through Litestar's dependency injection.

The lifespan builds the resources once (an :class:`ApiContext` on ``app.state``); each handler
declares the parts it uses (``bus``, ``sessions``, ``settings``, ``memory``, ``auth``,
``graph_ids``, ``webhook_policy``, ``owner``, and ``runs``: the run service), so its signature
says what it touches and a test can hand it others. No handler takes the whole context; run
admission inside ``RunService`` still does. The lifespan's background tasks (cron scheduling,
the thread TTL sweep) take the ``RunService`` the lifespan builds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from litestar.datastructures import State
from litestar.di import Provide
from litestar.types import Scope
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.api.auth.authorization import AuthHandlers
from headwater.api.runs.service import RunService
from headwater.api.shared.context import ApiContext
from headwater.common.bus import Bus
from headwater.common.settings import Settings
from headwater.common.webhooks import WebhookPolicy


def _ctx(state: State) -> ApiContext:
    """The ApiContext built in the lifespan, which holds the resources."""
    ctx: ApiContext = state.ctx
    return ctx


def provide_settings(state: State) -> Settings:
    """The API's settings."""
    return _ctx(state).settings


def provide_bus(state: State) -> Bus:
    """The bus (NATS JetStream, or the in-process one under ``headwater dev``)."""
    return _ctx(state).bus


def provide_sessions(state: State) -> async_sessionmaker[AsyncSession]:
    """Database sessions."""
    return _ctx(state).sessions


def provide_memory(state: State) -> httpx.AsyncClient | None:
    """The memory service's client, None when ``HEADWATER_MEMORY_URL`` is unset."""
    return _ctx(state).memory


def provide_auth(state: State) -> AuthHandlers:
    """The project's LangGraph custom auth handlers (none configured: every action allowed)."""
    return AuthHandlers(_ctx(state).custom_auth)


def provide_graph_ids(state: State) -> list[str]:
    """The served graphs' ids, from ``langgraph.json``."""
    return _ctx(state).graph_ids


def provide_webhook_policy(state: State) -> WebhookPolicy:
    """Which webhook URLs runs and crons may name (langgraph.json's ``webhooks``)."""
    return _ctx(state).webhook_policy


def provide_runs(state: State) -> RunService:
    """The run service: admission (which still takes the whole context), bus, sessions,
    settings and the auth handlers."""
    return RunService.of(_ctx(state))


def provide_owner(scope: Scope) -> str:
    """Who is asking. Anonymous ("") until authentication is configured."""
    user = scope.get("user")
    return str(getattr(user, "identity", "") or "")


def _sync(provider: Callable[..., Any]) -> Provide:
    return Provide(provider, sync_to_thread=False)


DEPENDENCIES = {
    "settings": _sync(provide_settings),
    "bus": _sync(provide_bus),
    "sessions": _sync(provide_sessions),
    "memory": _sync(provide_memory),
    "auth": _sync(provide_auth),
    "graph_ids": _sync(provide_graph_ids),
    "webhook_policy": _sync(provide_webhook_policy),
    "runs": _sync(provide_runs),
    "owner": _sync(provide_owner),
}

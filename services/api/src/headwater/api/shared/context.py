"""What request handlers share: settings, bus, database sessions and the served graphs."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.api.auth.custom import CustomAuth
from headwater.common.bus import Bus
from headwater.common.settings import Settings
from headwater.common.webhooks import WebhookPolicy

Sessions = async_sessionmaker[AsyncSession]
"""Database sessions: what handlers and services that query declare."""


@dataclass(slots=True)
class ApiContext:
    """The resources the app's lifespan builds. Handlers declare the parts they use (see
    :mod:`headwater.api.system.dependencies`); run admission still takes it whole."""

    settings: Settings
    bus: Bus
    sessions: async_sessionmaker[AsyncSession]
    graph_ids: list[str] = field(default_factory=list)
    custom_auth: CustomAuth | None = None
    memory: httpx.AsyncClient | None = None
    webhook_policy: WebhookPolicy = field(default_factory=WebhookPolicy)

    @property
    def default_assistant(self) -> str:
        """What the simple run API and ``/ws`` run when the client names no assistant."""
        return default_assistant(self.settings, self.graph_ids)


def default_assistant(settings: Settings, graph_ids: list[str]) -> str:
    """What the simple run API and ``/ws`` run when the client names no assistant."""
    return settings.default_assistant or (graph_ids[0] if graph_ids else "")

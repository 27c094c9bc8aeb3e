"""What request handlers share: settings, bus, database sessions and the served graphs."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.common.bus import Bus
from headwater.common.settings import Settings


@dataclass(slots=True)
class ApiContext:
    """Built in the app's lifespan; reached from handlers through ``app.state.ctx``."""

    settings: Settings
    bus: Bus
    sessions: async_sessionmaker[AsyncSession]
    graph_ids: list[str] = field(default_factory=list)

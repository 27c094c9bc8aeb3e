"""Alembic environment: runs migrations on an async engine."""

from __future__ import annotations

import asyncio

from alembic import context
from headwater.common.db.engine import make_engine
from headwater.common.db.models import Base
from sqlalchemy.engine import Connection

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


asyncio.run(_main())

"""Alembic environment: runs migrations on an async engine."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from headwater.common.db.engine import make_engine
from headwater.common.db.models import Base

target_metadata = Base.metadata


def _ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Leave tables we do not own (the LangGraph checkpointer's) out of autogenerate."""
    table = obj if type_ == "table" else getattr(obj, "table", None)
    table_name = getattr(table, "name", name)
    return not reflected or table_name in target_metadata.tables


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        include_object=_ours,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


asyncio.run(_main())

"""Assistant creation and versions (no Litestar here; the controller runs the auth handlers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.api.assistants.schemas import AssistantCreate, AssistantPatch
from headwater.api.auth.custom import filter_matches
from headwater.api.shared.errors import ApiError, Conflict, NotFound
from headwater.common.db.models import AssistantRow, AssistantVersionRow, utcnow
from headwater.common.ids import uuid7


def mirrored(
    config: dict[str, Any] | None, context: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """langgraph-api keeps ``config.configurable`` and ``context`` equal."""
    config = dict(config or {})
    if config.get("configurable") and context:
        raise ApiError(
            "Cannot specify both configurable and context. Prefer setting context alone."
        )
    if config.get("configurable"):
        return config, dict(config["configurable"])
    if context:
        config["configurable"] = dict(context)
        return config, dict(context)
    return config, {}


def _version_row(row: AssistantRow) -> AssistantVersionRow:
    return AssistantVersionRow(
        assistant_id=row.assistant_id,
        version=row.version,
        graph_id=row.graph_id,
        name=row.name,
        description=row.description,
        config=row.config,
        context=row.context,
        metadata_=row.metadata_,
        created_at=row.updated_at,
    )


async def create_assistant(
    session: AsyncSession,
    body: AssistantCreate,
    owner: str,
    graph_ids: list[str],
    rule: Mapping[str, Any] | None = None,
) -> AssistantRow:
    """A new assistant at version 1.

    With ``if_exists="do_nothing"`` an existing one is answered only if the caller could read
    it: its own (or a system one) that the ``assistants.create`` handler's filter ``rule``
    matches; else 409, as for any existing id.
    """
    if body.graph_id not in graph_ids:
        raise NotFound(f"Graph '{body.graph_id}' not found. Expected one of: {graph_ids}")
    assistant_id = body.assistant_id or str(uuid7())
    existing = await session.get(AssistantRow, assistant_id)
    if existing is not None:
        visible = not rule or filter_matches(rule, existing.metadata_ or {})
        if body.if_exists == "do_nothing" and existing.owner in ("", owner) and visible:
            return existing
        raise Conflict(f"Assistant {assistant_id} already exists")
    config, context = mirrored(body.config, body.context)
    now = utcnow()
    row = AssistantRow(
        assistant_id=assistant_id,
        graph_id=body.graph_id,
        name=body.name or "Untitled",
        description=body.description,
        config=config,
        context=context,
        metadata_=body.metadata or {},
        version=1,
        owner=owner,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.add(_version_row(row))
    return row


async def patch_assistant(
    session: AsyncSession, row: AssistantRow, body: AssistantPatch, graph_ids: list[str]
) -> AssistantRow:
    """Apply a patch as a new version and make it current."""
    if body.graph_id is not None and body.graph_id not in graph_ids:
        raise NotFound(f"Graph '{body.graph_id}' not found. Expected one of: {graph_ids}")
    if body.config is not None or body.context is not None:
        row.config, row.context = mirrored(
            body.config if body.config is not None else {}, body.context
        )
    if body.graph_id is not None:
        row.graph_id = body.graph_id
    if body.metadata is not None:
        row.metadata_ = {**(row.metadata_ or {}), **body.metadata}
    if body.name is not None:
        row.name = body.name
    if body.description is not None:
        row.description = body.description
    latest = await session.scalar(
        select(func.max(AssistantVersionRow.version)).where(
            AssistantVersionRow.assistant_id == row.assistant_id
        )
    )
    row.version = int(latest or row.version) + 1
    row.updated_at = utcnow()
    session.add(_version_row(row))
    return row


async def set_latest(session: AsyncSession, row: AssistantRow, version: int) -> AssistantRow:
    """Make an earlier version current again."""
    stored = await session.get(AssistantVersionRow, (row.assistant_id, version))
    if stored is None:
        raise NotFound(f"Assistant {row.assistant_id} has no version {version}")
    row.version, row.graph_id, row.name, row.description = (
        stored.version,
        stored.graph_id,
        stored.name,
        stored.description,
    )
    row.config, row.context, row.metadata_ = stored.config, stored.context, stored.metadata_
    row.updated_at = utcnow()
    return row

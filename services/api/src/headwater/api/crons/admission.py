"""Cron admission: validate, authorize and write crons; look them up for their owner.

No Litestar here. Every cron has an owner: another user's cron is a 404 and never appears in
a search. The ``crons`` auth handlers run on every action; their filters apply to the cron's
``metadata`` (and, on create, to the thread's and a non-system assistant's metadata).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from headwater.api.auth.authorization import (
    CarriesAuth,
    authorize,
    authorize_assistant_for_run,
    authorized_page,
    is_system_assistant,
    require_visible,
)
from headwater.api.auth.custom import CURRENT_USER, filter_matches
from headwater.api.crons.records import (
    BOTH_CONFIGURABLE_AND_CONTEXT,
    RUN_FIELDS,
    run_body,
    run_fields,
    with_cron_id,
)
from headwater.api.crons.schedule import next_fire
from headwater.api.crons.schemas import CronCreate, CronPatch, CronSearch
from headwater.api.runs.run_shape import resolve_assistant
from headwater.api.shared.context import ApiContext, Sessions
from headwater.api.shared.errors import ApiError, NotFound, Unprocessable
from headwater.api.shared.ids import require_uuid
from headwater.common.db import crons as cron_sql
from headwater.common.db.models import CronRow, ThreadRow, utcnow
from headwater.common.ids import assistant_id_for_graph, is_uuid, uuid7
from headwater.common.webhooks import WebhookPolicy, url_problem

NOT_FOUND = "Thread or assistant not found."
SCHEDULE_FIELDS = ("schedule", "timezone", "end_time")


def _auth_user() -> dict[str, Any]:
    """The creator as the authenticate handler returned them, in what JSON can keep."""
    user = CURRENT_USER.get()
    if not isinstance(user, Mapping):
        permissions = getattr(user, "permissions", None) or []
        return {"permissions": [str(p) for p in permissions]}
    return dict(json.loads(json.dumps(dict(user), default=str)))


def _set_fields(body: CronPatch) -> dict[str, Any]:
    fields = {f: getattr(body, f) for f in body.__struct_fields__}
    return {f: v for f, v in fields.items() if v is not msgspec.UNSET}


def _apply(cron: CronRow, changes: dict[str, Any], run_changes: dict[str, Any]) -> None:
    """Columns from ``changes``; run fields into the payload (metadata merged, as elsewhere)."""
    payload = dict(cron.payload or {})
    for name in ("schedule", "timezone", "end_time", "enabled"):
        if name in changes:
            setattr(cron, name, changes[name])
    payload["schedule"] = cron.schedule
    if "on_run_completed" in changes and cron.thread_id is None:
        cron.on_run_completed = changes["on_run_completed"]
    if "metadata" in run_changes:
        cron.metadata_ = {**(cron.metadata_ or {}), **(run_changes.pop("metadata") or {})}
        payload["metadata"] = cron.metadata_
    if "config" in run_changes:
        run_changes["config"] = with_cron_id(run_changes["config"], cron.cron_id)
    payload.update(run_changes)
    cron.payload = payload


def utc_or_none(value: dt.datetime | None) -> dt.datetime | None:
    """An end time in UTC; a naive one is taken as UTC already."""
    if value is None:
        return None
    return value.astimezone(dt.UTC) if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class CronAdmission:
    """What the cron endpoints do, with the dependencies they need (built per request by the
    crons controller from the injected ``sessions``, ``auth``, ``graph_ids`` and
    ``webhook_policy``)."""

    sessions: Sessions
    auth: CarriesAuth
    graph_ids: list[str]
    webhook_policy: WebhookPolicy

    @classmethod
    def of(cls, ctx: ApiContext) -> CronAdmission:
        """From the lifespan's context (the scheduler and tests hold one)."""
        return cls(ctx.sessions, ctx, ctx.graph_ids, ctx.webhook_policy)

    async def create(self, body: CronCreate, owner: str, thread_id: str | None) -> CronRow:
        """A new cron on ``thread_id``, or stateless (a new thread per fire) when None."""
        if thread_id is not None:
            require_uuid(thread_id, "thread")
        if body.config and body.config.get("configurable") and body.context:
            raise ApiError(BOTH_CONFIGURABLE_AND_CONTEXT)
        now = utcnow()
        next_fire(body.schedule, body.timezone, now)  # a bad schedule or zone is a 422 at once
        end_time = utc_or_none(body.end_time)
        cron_id = uuid7()
        metadata = dict(body.metadata or {})
        payload = {**run_fields(body), "metadata": metadata, "assistant_id": body.assistant_id}
        value: dict[str, Any] = {
            "payload": payload,
            "schedule": body.schedule,
            "cron_id": cron_id,
            "thread_id": thread_id,
            "user_id": owner,
            "end_time": end_time,
            "metadata": metadata,  # the same dict: a handler's stamp reaches the runs too
        }
        rule = await authorize(self.auth, "crons", "create", value)
        payload, metadata = dict(value["payload"]), dict(value["metadata"] or {})
        payload["metadata"] = metadata
        schedule = str(value["schedule"])
        async with self.sessions.begin() as session:
            wanted = str(payload.get("assistant_id") or body.assistant_id)
            assistant = await resolve_assistant(session, self.graph_ids, wanted)
            if assistant.owner not in ("", owner):
                raise NotFound(NOT_FOUND)
            system = is_system_assistant(assistant)
            if rule and not system and not filter_matches(rule, assistant.metadata_ or {}):
                raise NotFound(NOT_FOUND)
            if thread_id is not None:
                thread = await session.get(ThreadRow, thread_id, with_for_update=True)
                if thread is None or thread.owner != owner or thread.deleting:
                    raise NotFound(f"Thread {thread_id} not found")
                if rule and not filter_matches(rule, thread.metadata_ or {}):
                    raise NotFound(f"Thread {thread_id} not found")
            await authorize_assistant_for_run(self.auth, assistant)
            payload.update(
                assistant_id=assistant.assistant_id,
                schedule=schedule,
                config=with_cron_id(payload.get("config"), cron_id),
            )
            cron = CronRow(
                cron_id=cron_id,
                assistant_id=assistant.assistant_id,
                thread_id=thread_id,
                schedule=schedule,
                timezone=body.timezone,
                end_time=end_time,
                next_run_date=next_fire(schedule, body.timezone, now, end_time),
                payload=payload,
                metadata_=metadata,
                on_run_completed=None if thread_id else (body.on_run_completed or "delete"),
                enabled=body.enabled,
                auth_user=_auth_user(),
                owner=owner,
                created_at=now,
                updated_at=now,
            )
            self._check_run(cron)
            session.add(cron)
        return cron

    async def owned(self, cron_id: str, owner: str, action: str = "read") -> CronRow:
        """The caller's cron, after the ``crons.<action>`` handler; 404 otherwise."""
        require_uuid(cron_id, "cron")
        async with self.sessions() as session:
            cron = await session.get(CronRow, cron_id)
        detail = f"Cron {cron_id} not found"
        if cron is None or cron.owner != owner:
            raise NotFound(detail)
        await require_visible(
            self.auth, "crons", action, {"cron_id": cron_id}, cron.metadata_, detail
        )
        return cron

    def _check_run(self, cron: CronRow) -> None:
        """What every fire will submit must be a valid run now, its webhook one the policy allows."""
        body = run_body(cron)
        if body.webhook and (problem := url_problem(body.webhook, self.webhook_policy)):
            raise Unprocessable(f"Invalid webhook: {problem}")

    async def patch(self, cron_id: str, owner: str, body: CronPatch) -> CronRow:
        """Change the fields sent; the next run date follows a new schedule, zone or end time."""
        changes = _set_fields(body)
        if not changes:
            raise ApiError("Nothing to update: send at least one field of the cron")
        require_uuid(cron_id, "cron")
        if "end_time" in changes:
            changes["end_time"] = utc_or_none(changes["end_time"])
        value: dict[str, Any] = {
            "cron_id": cron_id,
            "payload": {k: v for k, v in changes.items() if k in RUN_FIELDS},
            "schedule": changes.get("schedule"),
        }
        now = utcnow()
        async with self.sessions.begin() as session:
            cron = await session.get(CronRow, cron_id, with_for_update=True)
            detail = f"Cron {cron_id} not found"
            if cron is None or cron.owner != owner:
                raise NotFound(detail)
            rule = await authorize(self.auth, "crons", "update", value)
            if rule and not filter_matches(rule, cron.metadata_ or {}):
                raise NotFound(detail)
            if value.get("schedule") is not None:
                changes["schedule"] = str(value["schedule"])
            _apply(cron, changes, dict(value["payload"] or {}))
            if any(f in changes for f in SCHEDULE_FIELDS) or changes.get("enabled") is True:
                cron.next_run_date = next_fire(cron.schedule, cron.timezone, now, cron.end_time)
            self._check_run(cron)  # still a valid run after the change (else nothing changes)
            cron.updated_at = now
        return cron

    def _assistant_filter(self, assistant_id: str | None) -> str | None:
        """Search by assistant UUID or by graph name (its system assistant)."""
        if assistant_id and not is_uuid(assistant_id) and assistant_id in self.graph_ids:
            return assistant_id_for_graph(assistant_id)
        return assistant_id

    async def search(
        self, owner: str, data: CronSearch, *, count_only: bool = False
    ) -> tuple[Sequence[CronRow], int]:
        """The caller's crons that match the search and the ``crons.search`` handler's filter."""
        assistant_id = self._assistant_filter(data.assistant_id)
        value = {
            "assistant_id": assistant_id,
            "thread_id": data.thread_id,
            "limit": data.limit,
            "offset": data.offset,
        }
        query: dict[str, Any] = {
            "owner": owner,
            "assistant_id": assistant_id,
            "thread_id": data.thread_id,
            "enabled": data.enabled,
            "sort_by": data.sort_by,
            "sort_order": data.sort_order,
        }

        async def one_page(
            metadata: dict[str, Any], limit: int, offset: int
        ) -> tuple[Sequence[CronRow], int]:
            async with self.sessions() as session:
                return await cron_sql.search_crons(
                    session, **query, metadata=metadata, limit=limit, offset=offset
                )

        return await authorized_page(
            self.auth,
            "crons",
            value,
            data.metadata,
            one_page,
            limit=0 if count_only else data.limit,
            offset=data.offset,
            metadata_of=lambda row: row.metadata_,
        )

    async def delete(self, cron_id: str, owner: str) -> None:
        """Delete a cron; runs it already created stay."""
        cron = await self.owned(cron_id, owner, "delete")
        async with self.sessions.begin() as session:
            if not await cron_sql.delete_cron(session, cron.cron_id):
                raise NotFound(f"Cron {cron_id} not found")

"""Crons as records: their wire shape, the run each fire creates, and the payload they keep.

No Litestar here. ``payload`` is the body of the runs a cron creates (the run fields of the
create request, the resolved ``assistant_id``, the ``schedule``, and ``cron_id`` in
``config.configurable`` as langgraph-api stores it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from headwater.api.crons.schemas import CronCreate, CronPatch
from headwater.api.runs.run_shape import stream_modes
from headwater.api.shared.errors import ApiError, Unprocessable
from headwater.api.shared.schemas import RunCreate
from headwater.api.shared.wire import iso
from headwater.common.db.models import CronRow, utcnow

RUN_FIELDS = (
    "input",
    "metadata",
    "config",
    "context",
    "checkpoint_during",
    "interrupt_before",
    "interrupt_after",
    "webhook",
    "multitask_strategy",
    "stream_mode",
    "stream_subgraphs",
    "stream_resumable",
    "durability",
)
BOTH_CONFIGURABLE_AND_CONTEXT = (
    "Cannot specify both configurable and context. Prefer setting context alone."
)


def run_fields(body: CronCreate | CronPatch) -> dict[str, Any]:
    """The run fields a request sets (None and unset ones left out)."""
    fields: dict[str, Any] = {}
    for name in RUN_FIELDS:
        value = getattr(body, name, None)
        if value is not None and value is not msgspec.UNSET:
            fields[name] = value
    return fields


def with_cron_id(config: dict[str, Any] | None, cron_id: str) -> dict[str, Any]:
    """``config`` with ``configurable.cron_id`` set."""
    config = dict(config or {})
    config["configurable"] = {**(config.get("configurable") or {}), "cron_id": cron_id}
    return config


def run_body(cron: CronRow) -> RunCreate:
    """The run a fire of ``cron`` creates.

    ``cron_id`` reaches the graph in ``config.configurable``; when the payload has a ``context``
    it goes there instead, because a run may not give both (langgraph ≥ 0.6 mirrors them).
    A stateless cron's runs get a new thread, deleted afterwards unless ``on_run_completed`` is
    ``keep``.
    """
    payload = dict(cron.payload or {})
    config = dict(payload.get("config") or {})
    configurable = {k: v for k, v in (config.get("configurable") or {}).items() if k != "cron_id"}
    if payload.get("context"):
        if configurable:
            raise ApiError(BOTH_CONFIGURABLE_AND_CONTEXT)
        payload["context"] = {**payload["context"], "cron_id": cron.cron_id}
        config.pop("configurable", None)
    else:
        config["configurable"] = {**configurable, "cron_id": cron.cron_id}
    payload["config"] = config
    payload["assistant_id"] = cron.assistant_id
    if cron.thread_id is None:
        payload["on_completion"] = cron.on_run_completed or "delete"
    payload.pop("schedule", None)
    try:
        body = msgspec.convert(payload, RunCreate)
    except msgspec.ValidationError as exc:
        raise Unprocessable(f"Invalid cron payload: {exc}") from exc
    stream_modes(body)  # unknown modes are a 422 now, not a failed fire later
    return body


def cron_json(cron: CronRow, select: Sequence[str] | None = None) -> dict[str, Any]:
    """``Cron`` (only the ``select``-ed fields when given)."""
    body: dict[str, Any] = {
        "cron_id": cron.cron_id,
        "assistant_id": cron.assistant_id,
        "thread_id": cron.thread_id,
        "user_id": cron.owner,
        "end_time": iso(cron.end_time) if cron.end_time is not None else None,
        "schedule": cron.schedule,
        "timezone": cron.timezone,
        "payload": cron.payload,
        "next_run_date": iso(cron.next_run_date) if cron.next_run_date is not None else None,
        "metadata": cron.metadata_,
        "on_run_completed": cron.on_run_completed,
        "enabled": cron.enabled,
        "created_at": iso(cron.created_at),
        "updated_at": iso(cron.updated_at),
    }
    if not select:
        return body
    body["now"] = iso(utcnow())
    return {name: body[name] for name in select}

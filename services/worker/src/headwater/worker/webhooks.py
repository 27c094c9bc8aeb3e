"""Calling a run's webhook once it has ended, as langgraph-api does: best effort, no retries.

The body is the ``Run`` with its final ``status``, ``run_started_at``, ``run_ended_at``,
``webhook_sent_at``, the thread's final ``values`` and, when it failed, the ``error``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.common.codec import dumps
from headwater.common.db.models import RunRow, utcnow
from headwater.common.db.shapes import iso, run_json
from headwater.common.webhooks import WebhookPolicy, resolved_problem

log = logging.getLogger(__name__)


class WebhookSender:
    """POSTs ended runs to their webhooks; owns nothing but a shared HTTP client."""

    def __init__(
        self,
        policy: WebhookPolicy,
        http: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        self.policy = policy
        self.http = http
        self.sessions = sessions

    async def send(
        self,
        url: str,
        run_id: str,
        *,
        started_at: dt.datetime,
        values: Any,
        error: dict[str, str] | None,
    ) -> bool:
        """Call ``url`` about the run; False (logged) when it was refused or failed."""
        problem = await resolved_problem(url, self.policy)
        if problem:
            log.warning("run %s: webhook not called: %s", run_id, problem)
            return False
        async with self.sessions() as session:
            row = await session.get(RunRow, run_id)
        if row is None:  # rolled back: there is no run to tell about
            return False
        body: dict[str, Any] = {
            **run_json(row),
            "run_started_at": iso(started_at),
            "run_ended_at": iso(row.updated_at),
            "webhook_sent_at": iso(utcnow()),
            "values": values,
        }
        if error is not None:
            body["error"] = error
        headers = {**self.policy.headers, "content-type": "application/json"}
        try:
            answer = await self.http.post(url, content=dumps(body), headers=headers)
        except httpx.HTTPError as exc:
            log.warning("run %s: webhook %s failed: %s", run_id, url, type(exc).__name__)
            return False
        if answer.status_code >= 400:
            log.warning("run %s: webhook %s answered %d", run_id, url, answer.status_code)
            return False
        return True

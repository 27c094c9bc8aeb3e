"""Calling a run's webhook once it has ended, as langgraph-api does: best effort, no retries.

The body is the ``Run`` with its final ``status``, ``run_started_at``, ``run_ended_at``,
``webhook_sent_at``, the thread's final ``values`` and, when it failed, the ``error``.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from headwater.common.codec import dumps
from headwater.common.db.models import RunRow, utcnow
from headwater.common.db.shapes import iso, run_json
from headwater.common.webhooks import WebhookPolicy, checked_addresses

log = logging.getLogger(__name__)


def pinned(url: str, address: str) -> tuple[str, str]:
    """``url`` with its host replaced by ``address``, and the ``Host`` header it had."""
    parts = urlsplit(url)
    literal = f"[{address}]" if ":" in address else address
    port = f":{parts.port}" if parts.port else ""
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=literal + port)), host


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
        problem, addresses = await checked_addresses(url, self.policy)
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
        target, extensions = url, {}
        if addresses:  # connect to the address that was checked, not to a second lookup's
            target, host = pinned(url, addresses[0])
            parts = urlsplit(url)
            headers["host"], extensions = host, {"sni_hostname": parts.hostname}
            if parts.username is not None:  # credentials in the URL still go along
                pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
                headers["authorization"] = "Basic " + base64.b64encode(pair).decode()
        try:
            answer = await self.http.post(
                target,
                content=dumps(body),
                headers=headers,
                extensions=extensions,
            )
        except httpx.HTTPError as exc:
            log.warning("run %s: webhook %s failed: %s", run_id, url, type(exc).__name__)
            return False
        if answer.status_code >= 400:
            log.warning("run %s: webhook %s answered %d", run_id, url, answer.status_code)
            return False
        return True

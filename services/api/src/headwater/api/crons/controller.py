"""``/runs/crons`` and ``/threads/{thread_id}/runs/crons``: create, get, patch, delete, search,
count. The runs they schedule are created by :mod:`headwater.api.crons.scheduler`."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from headwater.api.auth.authorization import AuthHandlers
from headwater.api.crons.admission import CronAdmission
from headwater.api.crons.records import cron_json
from headwater.api.crons.schemas import CronCreate, CronPatch, CronSearch
from headwater.api.shared.context import Sessions
from headwater.api.shared.paging import page
from headwater.common.webhooks import WebhookPolicy


def provide_crons(
    sessions: NamedDependency[Sessions],
    auth: NamedDependency[AuthHandlers],
    graph_ids: NamedDependency[list[str]],
    webhook_policy: NamedDependency[WebhookPolicy],
) -> CronAdmission:
    """The cron service over the injected dependencies it needs."""
    return CronAdmission(sessions, auth, graph_ids, webhook_policy)


class CronsController(Controller):
    """Crons: schedules that create runs, stateless (``/runs/crons``) or on a thread."""

    path = "/"
    tags = ["Crons"]
    dependencies = {"crons": Provide(provide_crons, sync_to_thread=False)}

    @post("/runs/crons", status_code=200)
    async def create(
        self,
        crons: NamedDependency[CronAdmission],
        owner: NamedDependency[str],
        data: JSONBody[CronCreate],
    ) -> dict[str, Any]:
        """A cron whose every fire runs on a new thread (deleted afterwards unless ``keep``)."""
        return cron_json(await crons.create(data, owner, None))

    @post("/threads/{thread_id:str}/runs/crons", status_code=200)
    async def create_for_thread(
        self,
        crons: NamedDependency[CronAdmission],
        owner: NamedDependency[str],
        thread_id: FromPath[str],
        data: JSONBody[CronCreate],
    ) -> dict[str, Any]:
        """A cron whose every fire runs on this thread (``multitask_strategy`` applies)."""
        return cron_json(await crons.create(data, owner, thread_id))

    @post("/runs/crons/search", status_code=200)
    async def search(
        self,
        crons: NamedDependency[CronAdmission],
        owner: NamedDependency[str],
        data: JSONBody[CronSearch],
    ) -> Response[list[dict[str, Any]]]:
        """The caller's crons by assistant, thread, enabled and metadata; newest first."""
        rows, total = await crons.search(owner, data)
        return page([cron_json(r, data.select) for r in rows], data.offset, total)

    @post("/runs/crons/count", status_code=200)
    async def count(
        self,
        crons: NamedDependency[CronAdmission],
        owner: NamedDependency[str],
        data: JSONBody[CronSearch],
    ) -> int:
        """How many of the caller's crons match."""
        _, total = await crons.search(owner, data, count_only=True)
        return total

    @get("/runs/crons/{cron_id:str}")
    async def get_cron(
        self,
        crons: NamedDependency[CronAdmission],
        owner: NamedDependency[str],
        cron_id: FromPath[str],
    ) -> dict[str, Any]:
        """One cron."""
        return cron_json(await crons.owned(cron_id, owner))

    @patch("/runs/crons/{cron_id:str}")
    async def update(
        self,
        crons: NamedDependency[CronAdmission],
        owner: NamedDependency[str],
        cron_id: FromPath[str],
        data: JSONBody[CronPatch],
    ) -> dict[str, Any]:
        """Change a cron; ``end_time: null`` clears its end time."""
        return cron_json(await crons.patch(cron_id, owner, data))

    @delete("/runs/crons/{cron_id:str}", status_code=204)
    async def delete_cron(
        self,
        crons: NamedDependency[CronAdmission],
        owner: NamedDependency[str],
        cron_id: FromPath[str],
    ) -> None:
        """Delete a cron; runs it already created stay."""
        await crons.delete(cron_id, owner)

"""``GET /api/v1/chat/runs/{run_id}/events``: the simple runs' event stream at the path chat
SSE clients use. The handler is ``GET /v1/runs/{run_id}/events`` itself, mounted again, so
the two cannot drift apart (same 404, same owner check, same stream)."""

from __future__ import annotations

from litestar import Controller

from headwater.api.fronts.simple_runs import SimpleRunsController


class ChatRunEventsController(Controller):
    """The run events of :class:`SimpleRunsController` under ``/api/v1/chat/runs``."""

    path = "/api/v1/chat/runs"
    tags = ["Simple runs"]

    events = SimpleRunsController.events

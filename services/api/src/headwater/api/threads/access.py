"""Finding the caller's thread, and asking a worker what only the compiled graph knows."""

from __future__ import annotations

from headwater.api.auth.authorization import CarriesAuth, require_visible
from headwater.api.shared.context import Sessions
from headwater.api.shared.errors import ApiError, NotFound, Unavailable
from headwater.api.shared.ids import require_uuid
from headwater.common.bus import Bus
from headwater.common.db.models import ThreadRow
from headwater.common.schemas import GraphRequest, encoder, graph_reply_decoder


async def owned_thread(
    sessions: Sessions, auth: CarriesAuth, thread_id: str, owner: str, action: str = "read"
) -> ThreadRow:
    """The caller's thread, allowed by the auth handlers for ``action``; 404 otherwise."""
    require_uuid(thread_id, "thread")
    async with sessions() as session:
        thread = await session.get(ThreadRow, thread_id)
    detail = f"Thread with ID {thread_id} not found"
    if thread is None or thread.owner != owner or (thread.deleting and action != "delete"):
        raise NotFound(detail)
    await require_visible(
        auth,
        "threads",
        action,
        {"thread_id": thread_id, "metadata": thread.metadata_},
        thread.metadata_,
        detail,
    )
    return thread


async def ask_worker(bus: Bus, request: GraphRequest, timeout_s: float) -> bytes:
    """A graph question answered by any worker; its JSON body, or the mapped error."""
    try:
        raw = await bus.request(encoder.encode(request), timeout=timeout_s)
    except TimeoutError as exc:
        raise Unavailable("No worker answered; are workers running?") from exc
    reply = graph_reply_decoder.decode(raw)
    if reply.status == 200:
        return bytes(reply.body)
    detail = reply.detail or "graph request failed"
    if reply.status == 404:
        raise NotFound(detail)
    if reply.status == 400:
        raise ApiError(detail)
    raise Unavailable(detail)

"""``GET /workers``: the worker registry as the console shows it."""

from __future__ import annotations

from headwater.api.context import ApiContext
from headwater.api.ops.schemas import Worker


async def worker_views(ctx: ApiContext) -> list[Worker]:
    """Registered workers, newest heartbeat first."""
    # TODO(capi): read the registry once hw/run's schema commit is merged.
    return []

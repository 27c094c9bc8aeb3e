"""The console's operational API: the run queue, the workers, runs across threads, a live feed
of runs, queue and workers over SSE, and the run inspector (``docs/console-api.md``)."""

from headwater.api.ops.controller import OpsController

__all__ = ["OpsController"]

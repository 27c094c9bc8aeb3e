"""The run queue as the console shows it: JetStream's consumer info, or the in-process queue.

An unreachable NATS is an outage, which the API's error mapping answers with 503.
"""

from __future__ import annotations

from headwater.api.ops.schemas import Queue
from headwater.common.bus import Bus
from headwater.common.bus.memory import InProcessBus
from headwater.common.bus.nats import NatsBus


async def queue_view(bus: Bus) -> Queue:
    """Pending, unacknowledged and redelivered run requests, and the consumers taking them."""
    if isinstance(bus, NatsBus):
        names = bus.names
        info = await bus.js.consumer_info(names.runs_stream, names.workers_consumer)
        stream = await bus.js.stream_info(names.runs_stream)
        return Queue(
            "nats",
            pending=int(info.num_pending or 0),
            ack_pending=int(info.num_ack_pending or 0),
            redelivered=int(info.num_redelivered or 0),
            consumers=int(stream.state.consumer_count or 0),
        )
    pending, ack_pending = await bus.queue_stats()
    redelivered = bus.redelivered_runs() if isinstance(bus, InProcessBus) else 0
    return Queue("dev", pending, ack_pending, redelivered, consumers=1)

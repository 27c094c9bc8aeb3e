"""The Bus: how the API, workers and memory talk. Two implementations, one contract."""

from headwater.common.bus.base import Bus, EventSubscription, RunDelivery, RunEvent

__all__ = ["Bus", "EventSubscription", "RunDelivery", "RunEvent"]

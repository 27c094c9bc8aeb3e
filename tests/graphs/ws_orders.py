"""A test graph for the WebSocket protocol: it asks to cancel an order and branches on the
bare answer, as graphs written for a ``/ws`` chat do (``if interrupt(...) is False``).

State ``outcome`` says which branch ran: ``approved`` (the answer is ``True``), ``rejected``
(``False``), or ``other: <answer>``; ``thread_name`` is the ``ws_thread_name`` the graph read
from its config.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import interrupt


class OrderState(MessagesState, total=False):
    outcome: str
    thread_name: str


def decide(state: OrderState, config: RunnableConfig) -> dict[str, Any]:
    answer = interrupt({"action": "cancel_order", "order_id": "1042"})
    if answer is False:
        outcome = "rejected"
    elif answer is True:
        outcome = "approved"
    else:
        outcome = f"other: {answer!r}"
    return {
        "outcome": outcome,
        "thread_name": (config.get("configurable") or {}).get("ws_thread_name", ""),
        "messages": [AIMessage(f"Order 1042: {outcome}.")],
    }


builder = StateGraph(OrderState)
builder.add_node("decide", decide)
builder.add_edge(START, "decide")
builder.add_edge("decide", END)
graph = builder.compile(name="ws_orders")

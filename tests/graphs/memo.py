"""A test graph with long-term memory: remember a fact in one thread, recall it in another."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore
from typing_extensions import TypedDict


class MemoState(TypedDict, total=False):
    remember: str
    answer: str


async def memo(state: MemoState, *, store: BaseStore) -> dict[str, Any]:
    if state.get("remember"):
        await store.aput(("memo",), "fact", {"text": state["remember"]})
        return {"answer": "noted"}
    item = await store.aget(("memo",), "fact")
    return {"answer": item.value["text"] if item else "nothing remembered"}


builder = StateGraph(MemoState)
builder.add_node("memo", memo)
builder.add_edge(START, "memo")
builder.add_edge("memo", END)
graph = builder.compile(name="memo")

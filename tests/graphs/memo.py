"""A test graph with long-term memory: remember a fact in one thread, recall it in another.

Recalling reads the fact and, with ``recall``, searches for it in the same store batch.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore, GetOp, Item, SearchOp
from typing_extensions import TypedDict


class MemoState(TypedDict, total=False):
    remember: str
    recall: str
    answer: str
    found: list[str]


async def memo(state: MemoState, *, store: BaseStore) -> dict[str, Any]:
    if state.get("remember"):
        await store.aput(("memo",), "fact", {"text": state["remember"]})
        return {"answer": "noted"}
    item, found = await store.abatch(
        [GetOp(("memo",), "fact"), SearchOp(("memo",), query=state.get("recall") or None)]
    )
    answer = item.value["text"] if isinstance(item, Item) else "nothing remembered"
    return {"answer": answer, "found": [i.key for i in found or []]}


builder = StateGraph(MemoState)
builder.add_node("memo", memo)
builder.add_edge(START, "memo")
builder.add_edge("memo", END)
graph = builder.compile(name="memo")

"""A test graph with a subgraph, for namespaced stream events."""

from __future__ import annotations

import operator
from typing import Annotated, Any

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict


class NestedState(TypedDict, total=False):
    notes: Annotated[list[str], operator.add]


def inner_step(state: NestedState) -> dict[str, Any]:
    return {"notes": ["from inner"]}


def outer_step(state: NestedState) -> dict[str, Any]:
    return {"notes": ["from outer"]}


inner_builder = StateGraph(NestedState)
inner_builder.add_node("inner_step", inner_step)
inner_builder.add_edge(START, "inner_step")
inner_builder.add_edge("inner_step", END)

builder = StateGraph(NestedState)
builder.add_node("outer_step", outer_step)
builder.add_node("inner", inner_builder.compile())
builder.add_edge(START, "outer_step")
builder.add_edge("outer_step", "inner")
builder.add_edge("inner", END)
graph = builder.compile(name="nested")

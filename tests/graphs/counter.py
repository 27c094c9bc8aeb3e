"""A test graph without an LLM: counts in steps, streams custom events, can be slow or fail.

Input ``{"steps": n, "delay": seconds, "fail_at": k, "label": "step"}``; each step is its own node
execution, so a killed worker resumes from the last finished step.
"""

from __future__ import annotations

import asyncio
import operator
import os
from typing import Annotated, Any

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict


class CounterState(TypedDict, total=False):
    steps: int
    delay: float
    fail_at: int
    label: str
    count: int
    log: Annotated[list[str], operator.add]


async def step(state: CounterState) -> dict[str, Any]:
    count = state.get("count", 0) + 1
    get_stream_writer()({"progress": count, "pid": os.getpid()})
    await asyncio.sleep(state.get("delay", 0.0))
    if state.get("fail_at") == count:
        raise ValueError(f"failed at step {count}")
    return {"count": count, "log": [f"{state.get('label') or 'step'} {count}"]}


def more(state: CounterState) -> str:
    return "step" if state.get("count", 0) < state.get("steps", 1) else END


builder = StateGraph(CounterState)
builder.add_node("step", step)
builder.add_edge(START, "step")
builder.add_conditional_edges("step", more, ["step", END])
graph = builder.compile(name="counter")

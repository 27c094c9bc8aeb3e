"""A test graph that asks a human, then works in slow steps: for resume, rollback and workers.

Input ``{"request": "…", "steps": n, "delay": seconds}``. ``prepare`` records the worker's pid,
``ask`` interrupts with a question (and records the pid of the worker that resumes it), then
``work`` runs ``steps`` steps of ``delay`` seconds, streaming ``{"progress": i, "pid": …}``.
"""

from __future__ import annotations

import asyncio
import operator
import os
from typing import Annotated, Any

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict


class ApprovalState(TypedDict, total=False):
    request: str
    steps: int
    delay: float
    answer: Any
    pids: Annotated[list[int], operator.add]
    work: Annotated[list[str], operator.add]


def prepare(state: ApprovalState) -> dict[str, Any]:
    return {"pids": [os.getpid()]}


def ask(state: ApprovalState) -> dict[str, Any]:
    answer = interrupt({"question": f"approve {state.get('request', 'this')}?"})
    return {"answer": answer, "pids": [os.getpid()]}


async def work(state: ApprovalState) -> dict[str, Any]:
    done = []
    for i in range(1, state.get("steps", 1) + 1):
        await asyncio.sleep(state.get("delay", 0.0))
        get_stream_writer()({"progress": i, "pid": os.getpid()})
        done.append(f"work {i} for {state.get('answer')}")
    return {"work": done}


builder = StateGraph(ApprovalState)
builder.add_node("prepare", prepare)
builder.add_node("ask", ask)
builder.add_node("work", work)
builder.add_edge(START, "prepare")
builder.add_edge("prepare", "ask")
builder.add_edge("ask", "work")
builder.add_edge("work", END)
graph = builder.compile(name="approval")

"""Copy, prune and rollback on the official savers, against SQLite and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.pregel import Pregel
from langgraph.types import Command, interrupt
from typing_extensions import TypedDict

from headwater.common.settings import checkpoint_dsn_from
from headwater.worker.checkpointer import open_checkpointer
from headwater.worker.savers import ThreadSaver
from tests.services import create_database, drop_database

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


class State(TypedDict, total=False):
    asked: int
    answer: str
    done: bool


def ask(state: State) -> dict[str, Any]:
    return {"answer": interrupt("approve?"), "asked": state.get("asked", 0) + 1}


def finish(state: State) -> dict[str, Any]:
    return {"done": True}


def approval_graph(saver: ThreadSaver) -> Pregel[Any, Any, Any, Any]:
    builder = StateGraph(State)
    builder.add_node("ask", ask)
    builder.add_node("finish", finish)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", "finish")
    builder.add_edge("finish", END)
    return builder.compile(checkpointer=saver)


def config(thread_id: str, run_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}, "metadata": {"run_id": run_id}}


@pytest.fixture(scope="module")
def pg_dsn() -> Iterator[str]:
    url = create_database()
    yield checkpoint_dsn_from(url)
    drop_database(url)


@pytest.fixture(params=["sqlite", "postgres"])
async def saver(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ThreadSaver]:
    dsn = (
        str(tmp_path / "cp.sqlite")
        if request.param == "sqlite"
        else request.getfixturevalue("pg_dsn")
    )
    async with open_checkpointer(dsn, setup=True) as opened:
        yield opened


async def test_rollback_of_a_resumed_run_restores_the_interrupt(saver: ThreadSaver) -> None:
    graph = approval_graph(saver)
    await graph.ainvoke({"asked": 0}, config("t-roll", "r1"))
    before = await graph.aget_state(config("t-roll", "r1"))
    assert before.next == ("ask",) and before.tasks[0].interrupts

    baseline = await saver.baseline("t-roll")
    # The resumed run answers, then stops before `finish`: it wrote onto r1's checkpoint.
    await graph.ainvoke(Command(resume="yes"), config("t-roll", "r2"), interrupt_before=["finish"])
    middle = await graph.aget_state(config("t-roll", "r2"))
    assert middle.values["answer"] == "yes" and middle.next == ("finish",)

    await saver.arollback("t-roll", "r2", baseline)
    after = await graph.aget_state(config("t-roll", "r1"))
    assert after.values == before.values and after.next == ("ask",)
    assert [i.value for i in after.tasks[0].interrupts] == ["approve?"]
    assert (
        after.config["configurable"]["checkpoint_id"]
        == before.config["configurable"]["checkpoint_id"]
    )
    # The thread goes on as if r2 never ran: the question is asked again, answered anew.
    result = await graph.ainvoke(Command(resume="no"), config("t-roll", "r3"))
    assert result == {"asked": 1, "answer": "no", "done": True}


async def test_rollback_of_a_fresh_run_leaves_nothing(saver: ThreadSaver) -> None:
    graph = approval_graph(saver)
    baseline = await saver.baseline("t-fresh")
    assert baseline == {}
    await graph.ainvoke({"asked": 0}, config("t-fresh", "r1"))
    await saver.arollback("t-fresh", "r1", baseline)
    assert await saver.aget_tuple(config("t-fresh", "r1")) is None


async def test_copy_is_a_full_independent_thread(saver: ThreadSaver) -> None:
    graph = approval_graph(saver)
    await graph.ainvoke({"asked": 0}, config("t-src", "r1"))
    await saver.acopy_thread("t-src", "t-copy")
    source = [s async for s in graph.aget_state_history(config("t-src", "r1"))]
    copied = [s async for s in graph.aget_state_history(config("t-copy", "r1"))]
    assert [(s.values, s.next) for s in copied] == [(s.values, s.next) for s in source]
    assert copied[0].metadata is not None and copied[0].metadata.get("thread_id") in (
        None,
        "t-copy",
    )
    await graph.ainvoke(Command(resume="copied"), config("t-copy", "r2"))
    assert (await graph.aget_state(config("t-copy", "r2"))).values["answer"] == "copied"
    assert (await graph.aget_state(config("t-src", "r1"))).next == ("ask",), "source untouched"


async def test_prune_keeps_the_latest_or_deletes(saver: ThreadSaver) -> None:
    graph = approval_graph(saver)
    for thread_id in ("t-keep", "t-gone"):
        await graph.ainvoke({"asked": 0}, config(thread_id, "r1"))
        await graph.ainvoke(Command(resume="ok"), config(thread_id, "r2"))
    latest = await graph.aget_state(config("t-keep", "r2"))
    await saver.aprune(["t-keep"], strategy="keep_latest")
    history = [s async for s in graph.aget_state_history(config("t-keep", "r2"))]
    assert len(history) == 1 and history[0].values == latest.values
    await saver.aprune(["t-gone"], strategy="delete")
    assert await saver.aget_tuple(config("t-gone", "r2")) is None
    with pytest.raises(ValueError):
        await saver.aprune(["t-keep"], strategy="shred")

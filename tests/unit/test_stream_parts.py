"""The worker's part encoder writes exactly the bytes ``dumps`` would, with its shortcuts."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessageChunk

from headwater.common.codec import dumps
from headwater.worker.stream_parts import PartEncoder

pytestmark = pytest.mark.unit


def _metadata(node: str) -> dict[str, object]:
    return {
        "thread_id": "t-1",
        "langgraph_step": 1,
        "langgraph_node": node,
        "langgraph_triggers": ("branch:to:agent",),
        "langgraph_path": ("__pregel_pull", node),
        "ls_provider": "openai",
        "ls_temperature": None,
        "weird": {1: "non-string key"},
    }


def test_message_tuples_are_byte_identical_to_dumping_the_pair() -> None:
    encoder = PartEncoder(["messages-tuple"])
    first, second = _metadata("agent"), _metadata("tools")
    parts = [
        (AIMessageChunk(content="Hel", id="m1"), first),
        (AIMessageChunk(content='lo "world"\n', id="m1"), first),
        (AIMessageChunk(content="", id="m2", usage_metadata=None), second),
    ]
    for chunk in parts:
        assert encoder.encode((), "messages", chunk) == [("messages", dumps(chunk))]
    # A metadata dict that grows between tokens is encoded again, not served stale.
    first["extra"] = 1
    chunk = (AIMessageChunk(content="!", id="m1"), first)
    assert encoder.encode(("sub:1",), "messages", chunk) == [("messages|sub:1", dumps(chunk))]


def test_other_modes_dump_the_chunk_once() -> None:
    encoder = PartEncoder(["values", "updates"])
    assert encoder.encode((), "values", {"a": [1, 2]}) == [("values", b'{"a":[1,2]}')]
    assert encoder.encode(("n:1", "m:2"), "updates", {"n": None}) == [
        ("updates|n:1|m:2", b'{"n":null}')
    ]

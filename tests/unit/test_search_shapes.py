"""``select`` and ``extract`` on search answers."""

from __future__ import annotations

import pytest

from headwater.api.shared.errors import Unprocessable
from headwater.api.shared.search_shapes import follow, parse_path, shaped

pytestmark = pytest.mark.unit
THREAD = {
    "thread_id": "t1",
    "status": "idle",
    "values": {"messages": [{"content": "hi"}, {"content": "hello there"}], "n": 0},
}


def test_paths_follow_keys_and_indices() -> None:
    assert parse_path("values.messages[-1].content") == ["values", "messages", -1, "content"]
    assert follow(THREAD, parse_path("values.messages[-1].content")) == "hello there"
    assert follow(THREAD, parse_path("values.messages[0]")) == {"content": "hi"}
    assert follow(THREAD, parse_path("values.n")) == 0
    assert follow(THREAD, parse_path("values.messages[5]")) is None
    assert follow(THREAD, parse_path("values.missing.deeper")) is None
    assert follow(THREAD, parse_path("status[0]")) is None


@pytest.mark.parametrize("path", ["", "values..x", "[0]", "values.m[x]", "a[1", "a]b"])
def test_bad_paths_are_422(path: str) -> None:
    with pytest.raises(Unprocessable):
        parse_path(path)


def test_select_and_extract_together() -> None:
    [item] = shaped([THREAD], ["thread_id"], {"last": "values.messages[-1].content"})
    assert item == {"thread_id": "t1", "extracted": {"last": "hello there"}}
    assert shaped([THREAD], None) == [THREAD]
    with pytest.raises(Unprocessable):
        shaped([THREAD], None, {f"a{i}": "values" for i in range(11)})

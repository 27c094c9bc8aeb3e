"""Settings, langgraph.json loading, ids and the JSON codec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headwater.common.codec import dumps
from headwater.common.graph_config import ConfigError, load_project
from headwater.common.ids import assistant_id_for_graph, is_uuid, uuid7
from headwater.common.settings import checkpoint_dsn_from, load_settings

pytestmark = pytest.mark.unit


def test_settings_from_environment() -> None:
    settings = load_settings(
        {
            "HEADWATER_PORT": "9001",
            "HEADWATER_WORKER_CONCURRENCY": "3",
            "HEADWATER_ACK_WAIT_S": "2.5",
        }
    )
    assert (settings.port, settings.worker_concurrency, settings.ack_wait_s) == (9001, 3, 2.5)
    assert load_settings({}, port=7000).port == 7000
    with pytest.raises(Exception, match="port"):
        load_settings({"HEADWATER_PORT": "eighty"})


def test_checkpoint_dsn_is_derived() -> None:
    assert checkpoint_dsn_from("postgresql+asyncpg://u@h:5432/db") == "postgresql://u@h:5432/db"
    assert (
        checkpoint_dsn_from("sqlite+aiosqlite:///.headwater/hw.sqlite")
        == ".headwater/hw-checkpoints.sqlite"
    )
    with pytest.raises(ValueError, match="unsupported"):
        checkpoint_dsn_from("mysql://x")


def test_assistant_ids_match_langgraph_api() -> None:
    assert assistant_id_for_graph("agent") == "fe096781-5601-53d2-b2f6-0d3403f7e9ca"


def test_uuid7_is_time_ordered() -> None:
    ids = [uuid7() for _ in range(5000)]  # many per millisecond: the counter keeps order
    assert all(is_uuid(i) and i[14] == "7" for i in ids)
    assert ids == sorted(ids)
    assert not is_uuid("agent")


def test_load_project(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("A=1\nexport B='two'\n# comment\n")
    (tmp_path / "langgraph.json").write_text(
        json.dumps({"graphs": {"g": "./g.py:graph", "m": {"path": "pkg.mod:make"}}, "env": ".env"})
    )
    project = load_project(tmp_path / "langgraph.json")
    assert project.graphs["g"].location == "./g.py" and project.graphs["g"].attribute == "graph"
    assert project.graphs["g"].is_file and not project.graphs["m"].is_file
    assert project.env == {"A": "1", "B": "two"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not valid JSON"),
        ("{}", "graphs"),
        ('{"graphs": {"g": "nocolon"}}', "path/to/file.py:attribute"),
    ],
)
def test_bad_project_files(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "langgraph.json").write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_project(tmp_path / "langgraph.json")
    with pytest.raises(ConfigError, match="not found"):
        load_project(tmp_path / "missing.json")


def test_codec_dumps_messages_and_errors() -> None:
    from langchain_core.messages import AIMessageChunk

    chunk = AIMessageChunk(content="hi", id="m1")
    decoded = json.loads(dumps({"m": chunk, "e": ValueError("bad"), "s": {1}}))
    assert decoded["m"]["type"] == "AIMessageChunk" and decoded["m"]["content"] == "hi"
    assert decoded["e"] == {"error": "ValueError", "message": "bad"}
    assert decoded["s"] == [1]


def test_named_thread_ids_are_keyed_by_the_server_secret() -> None:
    import uuid

    from headwater.common.ids import named_thread_id

    scope = uuid.UUID("5f0c8a52-3a8e-4d47-9a3c-7f2d6c1b9e10")
    keyed = named_thread_id("s3cret", scope, "alice", "s1")
    assert keyed == named_thread_id("s3cret", scope, "alice", "s1"), "stable"
    assert keyed != named_thread_id("other", scope, "alice", "s1"), "unguessable without it"
    assert keyed != named_thread_id("s3cret", scope, "bob", "s1")
    assert uuid.UUID(keyed).version == 5
    assert named_thread_id("", scope, "alice", "s1") == str(uuid.uuid5(scope, "alice\x00s1"))

"""langgraph.json's ``store`` section and the settings → what the memory service does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from headwater.common.graph_config import ConfigError, load_project, store_config
from headwater.common.settings import load_settings
from headwater.memory.options import SemanticIndex, StoreOptions, store_options

pytestmark = pytest.mark.unit


def project(tmp_path: Path, store: Any) -> Path:
    path = tmp_path / "langgraph.json"
    body: dict[str, Any] = {"graphs": {"g": "./g.py:graph"}}
    if store is not None:
        body["store"] = store
    path.write_text(json.dumps(body))
    return path


def test_store_section_is_read_typed(tmp_path: Path) -> None:
    path = project(
        tmp_path,
        {
            "index": {"embed": "openai:text-embedding-3-small", "dims": 1536, "fields": ["$"]},
            "ttl": {"default_ttl": 60, "refresh_on_read": False, "sweep_interval_minutes": 2},
        },
    )
    config = store_config(load_project(path))
    assert config.index is not None and config.index.model == "text-embedding-3-small"
    assert (config.index.dims, config.index.fields) == (1536, ("$",))
    assert config.ttl is not None and config.ttl.default_ttl == 60
    assert config.ttl.refresh_on_read is False and config.ttl.sweep_interval_minutes == 2
    assert store_config(load_project(project(tmp_path, None))).index is None


@pytest.mark.parametrize(
    ("store", "message"),
    [
        ({"index": {"dims": 3}}, "store"),
        ({"index": {"embed": "./embed.py:fn", "dims": 3}}, "name a model"),
        ({"index": {"embed": "openai:x", "dims": 0}}, "dims"),
        ({"index": {"embed": "openai:x", "fields": []}}, "fields"),
        ({"ttl": {"default_ttl": -5}}, "default_ttl"),
        ({"ttl": {"refresh_on_read": "yes"}}, "store"),
        ("nope", "store"),
    ],
)
def test_bad_store_sections(tmp_path: Path, store: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        store_config(load_project(project(tmp_path, store)))


def test_semantic_search_needs_an_embeddings_endpoint(tmp_path: Path) -> None:
    path = str(project(tmp_path, {"index": {"embed": "openai:m", "dims": 8, "fields": ["text"]}}))
    with_url = load_settings(
        {"HEADWATER_CONFIG": path, "HEADWATER_EMBEDDINGS_BASE_URL": "http://e/v1"}
    )
    assert store_options(with_url).index == SemanticIndex("m", 8, ("text",))
    assert store_options(load_settings({"HEADWATER_CONFIG": path})).index is None, (
        "store.index without an endpoint: full-text ranking"
    )
    plain = str(project(tmp_path, None))
    implicit = load_settings(
        {
            "HEADWATER_CONFIG": plain,
            "HEADWATER_EMBEDDINGS_BASE_URL": "http://e/v1",
            "HEADWATER_EMBEDDINGS_MODEL": "bge",
        }
    )
    assert store_options(implicit).index == SemanticIndex("bge", None, ("$",)), (
        "the endpoint alone embeds whole values"
    )


def test_ttl_options_and_a_missing_project(tmp_path: Path) -> None:
    path = str(project(tmp_path, {"ttl": {"default_ttl": 30}}))
    options = store_options(load_settings({"HEADWATER_CONFIG": path}))
    assert options == StoreOptions(default_ttl=30, refresh_on_read=True)
    missing = load_settings({"HEADWATER_CONFIG": str(tmp_path / "absent.json")})
    assert store_options(missing) == StoreOptions()

"""``VLLM_BASE_URL`` and ``VLLM_MODEL_NAME``: the LLM settings by their common names."""

from __future__ import annotations

import pytest

from headwater.common.settings import load_settings

pytestmark = pytest.mark.unit


def test_vllm_names_are_read_when_headwater_names_are_not_set() -> None:
    settings = load_settings(
        {"VLLM_BASE_URL": "http://vllm:8000/v1", "VLLM_MODEL_NAME": "Qwen/Qwen3-8B"}
    )
    assert (settings.llm_base_url, settings.llm_model) == ("http://vllm:8000/v1", "Qwen/Qwen3-8B")


def test_headwater_names_win_over_the_aliases() -> None:
    settings = load_settings(
        {
            "VLLM_BASE_URL": "http://vllm:8000/v1",
            "VLLM_MODEL_NAME": "alias-model",
            "HEADWATER_LLM_BASE_URL": "http://llm:9000/v1",
            "HEADWATER_LLM_MODEL": "headwater-model",
        }
    )
    assert (settings.llm_base_url, settings.llm_model) == ("http://llm:9000/v1", "headwater-model")


def test_an_empty_headwater_name_falls_back_to_the_alias_and_defaults_stay() -> None:
    settings = load_settings({"HEADWATER_LLM_BASE_URL": "", "VLLM_BASE_URL": "http://v:1/v1"})
    assert settings.llm_base_url == "http://v:1/v1"
    assert settings.llm_model == "headwater-sim"
    assert load_settings({}).llm_base_url == ""
    assert load_settings({}).ws_max_message_bytes == 32768

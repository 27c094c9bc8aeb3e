"""Full-text ranking of memories on a small fixed corpus."""

from __future__ import annotations

import pytest

from headwater.memory.extraction import parse_facts
from headwater.memory.ranking import bm25, item_text, words

pytestmark = pytest.mark.unit

CORPUS = [
    "I live in Lyon",
    "My favourite colour is blue",
    "My dog is called Rex",
    "I prefer tea to coffee in the morning",
    "My sister lives in Lyon too",
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("what is my favourite colour?", ["My favourite colour is blue"]),
        ("where do I live", ["I live in Lyon"]),
        ("lyon", ["I live in Lyon", "My sister lives in Lyon too"]),
        ("coffee or tea", ["I prefer tea to coffee in the morning"]),
    ],
)
def test_bm25_orders_the_corpus(query: str, expected: list[str]) -> None:
    scores = bm25(query, CORPUS)
    ranked = [
        doc for doc, _ in sorted(zip(CORPUS, scores, strict=True), key=lambda p: p[1], reverse=True)
    ]
    assert ranked[: len(expected)] == expected
    assert scores[CORPUS.index(expected[0])] > 0
    assert min(scores) == 0, "documents sharing no word score nothing"


def test_text_of_values_and_tokens() -> None:
    assert item_text({"text": "Blue", "tags": ["a", {"b": "c"}], "n": 3}) == "Blue a c "
    assert words("What is THE colour?") == ["colour"]


def test_parse_facts() -> None:
    assert parse_facts('Sure: ["a", " b "]') == ["a", "b"]
    assert parse_facts("- a\n* b\n\n") == ["a", "b"]


async def test_embedding_ranking_with_the_simulator() -> None:
    import httpx

    from headwater.memory.ranking import embedding_scores
    from headwater.simllm.app import create_app
    from headwater.simllm.config import SimConfig

    transport = httpx.ASGITransport(app=create_app(SimConfig()))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim/v1") as client:
        scores = await embedding_scores(
            client, "headwater-sim", "what is my favourite colour?", CORPUS
        )
    assert max(range(len(CORPUS)), key=scores.__getitem__) == CORPUS.index(
        "My favourite colour is blue"
    )

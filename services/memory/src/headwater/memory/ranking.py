"""Ranking store items against a query: BM25 over their text, or embeddings when configured."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx

STOPWORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "what",
        "which",
        "who",
        "of",
        "to",
        "in",
        "on",
        "and",
        "or",
        "do",
        "does",
        "you",
    }
)
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-case word tokens without stop words."""
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def item_text(value: Any) -> str:
    """All the strings in a stored value."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return " ".join(item_text(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(item_text(v) for v in value)
    return ""


def bm25(query: str, documents: Sequence[str], k1: float = 1.2, b: float = 0.75) -> list[float]:
    """BM25 scores of ``documents`` for ``query`` (the candidates are the corpus)."""
    docs = [words(d) for d in documents]
    if not docs:
        return []
    average = sum(len(d) for d in docs) / len(docs) or 1.0
    frequency = Counter(w for d in docs for w in set(d))
    scores = []
    for doc in docs:
        counts = Counter(doc)
        score = 0.0
        for term in set(words(query)):
            if term not in counts:
                continue
            idf = math.log(1 + (len(docs) - frequency[term] + 0.5) / (frequency[term] + 0.5))
            tf = counts[term]
            score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(doc) / average))
        scores.append(score)
    return scores


async def embedding_scores(
    client: httpx.AsyncClient, model: str, query: str, documents: Sequence[str]
) -> list[float]:
    """Cosine similarity of each document to the query, from an OpenAI-style /embeddings."""
    answer = await client.post("/embeddings", json={"model": model, "input": [query, *documents]})
    answer.raise_for_status()
    vectors = [d["embedding"] for d in sorted(answer.json()["data"], key=lambda d: d["index"])]
    head, rest = vectors[0], vectors[1:]

    def cosine(a: Sequence[float], b: Sequence[float]) -> float:
        norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
        return sum(x * y for x, y in zip(a, b, strict=True)) / norm if norm else 0.0

    return [cosine(head, v) for v in rest]

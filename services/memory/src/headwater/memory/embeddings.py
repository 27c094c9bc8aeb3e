"""Embeddings from an OpenAI-compatible ``/embeddings`` endpoint (vLLM, OpenAI, the simulator)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import httpx

BATCH_SIZE = 128


class EmbeddingsUnavailable(Exception):
    """The embeddings endpoint did not answer (503 to the caller)."""


class EmbeddingsBadAnswer(Exception):
    """The embeddings endpoint answered something unusable (502 to the caller)."""


class HttpEmbedder:
    """Turns texts into vectors with one request per :data:`BATCH_SIZE` texts."""

    def __init__(self, client: httpx.AsyncClient, model: str, dims: int | None) -> None:
        self.client = client
        self.model = model
        self.dims = dims

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order (the official store's ``index.embed`` signature)."""
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH_SIZE):
            vectors += await self._embed_batch(list(texts[start : start + BATCH_SIZE]))
        return vectors

    async def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        try:
            answer = await self.client.post(
                "/embeddings", json={"model": self.model, "input": texts}
            )
        except httpx.HTTPError as exc:
            raise EmbeddingsUnavailable(
                f"the embeddings endpoint did not answer: {type(exc).__name__}"
            ) from exc
        if answer.status_code >= 500:
            raise EmbeddingsUnavailable(f"the embeddings endpoint answered {answer.status_code}")
        if answer.status_code != 200:
            raise EmbeddingsBadAnswer(
                f"the embeddings endpoint refused the request ({answer.status_code}): "
                f"{answer.text[:200]}"
            )
        return self._vectors(answer.json(), len(texts))

    def _vectors(self, body: Any, count: int) -> list[list[float]]:
        try:
            data = sorted(body["data"], key=lambda d: d["index"])
            vectors = [[float(x) for x in d["embedding"]] for d in data]
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbeddingsBadAnswer(
                "the embeddings endpoint answered an unexpected body"
            ) from exc
        if len(vectors) != count:
            raise EmbeddingsBadAnswer(f"asked for {count} embeddings, got {len(vectors)}")
        for vector in vectors:
            if self.dims is not None and len(vector) != self.dims:
                raise EmbeddingsBadAnswer(
                    f"the model returned {len(vector)} dimensions; store.index.dims is {self.dims}"
                )
        return vectors


def unit(vector: Sequence[float]) -> list[float]:
    """``vector`` scaled to length 1 (a zero vector stays zero): dot product = cosine."""
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else list(vector)

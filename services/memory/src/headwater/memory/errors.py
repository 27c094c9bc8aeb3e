"""What can go wrong in the memory service, independent of HTTP (mapped in error_handlers)."""

from __future__ import annotations

from headwater.memory.embeddings import EmbeddingsBadAnswer, EmbeddingsUnavailable


class InvalidRequest(Exception):
    """The caller sent something the store cannot do (422)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


__all__ = ["EmbeddingsBadAnswer", "EmbeddingsUnavailable", "InvalidRequest"]

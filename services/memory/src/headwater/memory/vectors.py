"""What semantic search embeds when an item is written: the texts at its index paths.

SQLite (dev) keeps the vectors in ``headwater_store_vectors`` (one row per item and path, unit
length, removed with the item by a foreign key) and scores them in SQL against the one query
embedding; PostgreSQL leaves them to the official store's pgvector index (postgres_backend.py)
and uses the names only. A put's ``index`` chooses the paths: ``None`` the configured ``fields``, ``False``
none, a list those paths (LangGraph's path syntax: ``"a.b"``, ``"list[*].text"``, ``"$"``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from langgraph.store.base import PutOp, get_text_at_path

from headwater.memory.embeddings import HttpEmbedder, unit
from headwater.memory.errors import InvalidRequest

ItemKey = tuple[tuple[str, ...], str]
FieldVectors = list[tuple[str, list[float]]]


def latest_puts(ops: Iterable[PutOp]) -> dict[ItemKey, PutOp]:
    """The last op of each item (the official stores apply a batch's writes the same way)."""
    return {(op.namespace, op.key): op for op in ops}


def texts_to_embed(op: PutOp, fields: Sequence[str]) -> list[tuple[str, str]]:
    """``(field name, text)`` pairs of one put (names get ``.i`` when a path yields many)."""
    if op.value is None or op.index is False:
        return []
    pairs: list[tuple[str, str]] = []
    for path in fields if op.index is None else op.index:
        try:
            texts = get_text_at_path(op.value, path)
        except (ValueError, IndexError) as exc:
            raise InvalidRequest(f"invalid index path {path!r}: {exc}") from exc
        pairs += [(f"{path}.{i}" if len(texts) > 1 else path, t) for i, t in enumerate(texts)]
    return pairs


async def embed_puts(
    embedder: HttpEmbedder, ops: Iterable[PutOp], fields: Sequence[str]
) -> dict[ItemKey, FieldVectors]:
    """Unit vectors of every text the puts index, in one embeddings call."""
    wanted = [
        (item, name, text)
        for item, op in latest_puts(ops).items()
        for name, text in texts_to_embed(op, fields)
    ]
    found: dict[ItemKey, FieldVectors] = {}
    if not wanted:
        return found
    vectors = await embedder.embed([text for _, _, text in wanted])
    for (item, name, _), vector in zip(wanted, vectors, strict=True):
        found.setdefault(item, []).append((name, unit(vector)))
    return found

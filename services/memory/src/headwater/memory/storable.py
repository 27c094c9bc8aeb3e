"""What both databases can keep: text without NUL and integers of at most 64 bits.

PostgreSQL's ``text`` and ``jsonb`` refuse the NUL character; SQLite's JSON encoder (orjson)
and its integer parameters refuse integers beyond 64 bits. The service checks keys, values,
index paths and filters before any SQL runs, on both databases, so such input is a 422 the same
way everywhere and nothing of the request is stored.
"""

from __future__ import annotations

from typing import Any

from headwater.memory.errors import InvalidRequest

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
NUL = "\x00"


def check_text(text: str, what: str) -> None:
    """422 when ``text`` holds a NUL character."""
    if NUL in text:
        raise InvalidRequest(f"{what} must not contain the NUL character (\\u0000)")


def check_json(value: Any, what: str) -> None:
    """422 unless every string in ``value`` (object keys too) is NUL-free and every integer
    fits in a signed 64-bit integer. Iterative: a deep document cannot exhaust the stack."""
    pending: list[tuple[str, Any]] = [(what, value)]
    while pending:
        path, node = pending.pop()
        if isinstance(node, str):
            check_text(node, path)
        elif isinstance(node, bool):
            continue
        elif isinstance(node, int):
            if not INT64_MIN <= node <= INT64_MAX:
                raise InvalidRequest(
                    f"{path} must be an integer between -2**63 and 2**63-1 (64 bits)"
                )
        elif isinstance(node, dict):
            for key, item in node.items():
                check_text(key, f"the keys of {path}")
                pending.append((f"{path}.{key}", item))
        elif isinstance(node, list):
            pending += [(f"{path}[{i}]", item) for i, item in enumerate(node)]

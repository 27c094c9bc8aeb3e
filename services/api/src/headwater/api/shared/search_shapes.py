"""What a search answers per item: only the ``select``-ed fields, plus ``extract``-ed values.

``extract`` maps aliases to paths into the item, dot-separated with ``[i]`` indices (negative
from the end): ``{"last": "values.messages[-1].content"}`` adds
``"extracted": {"last": …}`` to each thread, ``null`` where the path leads nowhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from headwater.api.shared.errors import Unprocessable

MAX_EXTRACT = 10
_STEP = re.compile(r"([^.\[\]]+)|\[(-?\d{1,6})\]")


def parse_path(path: str) -> list[str | int]:
    """``values.messages[-1].content`` → ``["values", "messages", -1, "content"]``; 422 if bad."""
    steps: list[str | int] = []
    for part in path.split("."):
        if not part:
            raise Unprocessable(f"Invalid extract path {path!r}: empty step")
        found = list(_STEP.finditer(part))
        if "".join(m.group(0) for m in found) != part or found[0].group(1) is None:
            raise Unprocessable(f"Invalid extract path {path!r}: use keys and [index]")
        steps.extend(m.group(1) if m.group(1) is not None else int(m.group(2)) for m in found)
    return steps


def follow(item: Any, steps: Sequence[str | int]) -> Any:
    """The value at ``steps`` inside ``item``, or None."""
    for step in steps:
        if isinstance(step, int):
            if not isinstance(item, list) or not -len(item) <= step < len(item):
                return None
            item = item[step]
        elif isinstance(item, Mapping) and step in item:
            item = item[step]
        else:
            return None
    return item


def shaped(
    items: list[dict[str, Any]],
    select: Sequence[str] | None,
    extract: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The items with only the ``select``-ed fields and an ``extracted`` field when asked."""
    if extract and len(extract) > MAX_EXTRACT:
        raise Unprocessable(f"extract takes at most {MAX_EXTRACT} paths")
    paths = {alias: parse_path(path) for alias, path in (extract or {}).items()}
    out = []
    for item in items:
        kept = {name: item[name] for name in select} if select else dict(item)
        if paths:
            kept["extracted"] = {alias: follow(item, steps) for alias, steps in paths.items()}
        out.append(kept)
    return out

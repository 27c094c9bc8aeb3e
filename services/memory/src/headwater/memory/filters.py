"""A search ``filter`` as SQL: each key a condition on the value, all of them AND-ed.

``{"field": v}`` is equality, ``{"field": {"$gt": v, …}}`` uses the official stores' operators
(``$eq $ne $gt $gte $lt $lte``), and ``{"$and": [f1, f2]}`` nests filters (custom auth AND-s its
filter into the caller's this way). Each dialect renders one condition with its official store's
own ``_get_filter_condition`` so filters mean what they mean in LangGraph.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from headwater.memory.errors import InvalidRequest

Condition = Callable[[str, str, Any], tuple[str, list[Any]]]
MAX_DEPTH = 4


def filter_sql(
    rule: Mapping[str, Any] | None, condition: Condition, depth: int = 0
) -> tuple[list[str], list[Any]]:
    """SQL conditions and their parameters, in order."""
    clauses: list[str] = []
    params: list[Any] = []
    if not rule:
        return clauses, params
    if depth > MAX_DEPTH:
        raise InvalidRequest("filter is nested too deeply")
    for key, expected in rule.items():
        if key == "$and":
            if not isinstance(expected, list) or not all(isinstance(p, dict) for p in expected):
                raise InvalidRequest('filter "$and" must be a list of filters')
            for part in expected:
                more, values = filter_sql(part, condition, depth + 1)
                clauses += more
                params += values
            continue
        if key.startswith("$"):
            raise InvalidRequest(f"unsupported filter operator {key!r} (use $and)")
        operators = expected if isinstance(expected, dict) else {"$eq": expected}
        for name, value in operators.items():
            try:
                sql, values = condition(key, name, value)
            except (ValueError, OverflowError) as exc:  # SQLite's helper calls float(value)
                raise InvalidRequest(f"invalid filter on {key!r}: {exc}") from exc
            clauses.append(sql)
            params += values
    return clauses, params

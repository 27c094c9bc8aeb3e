"""What the API refuses before decoding a body: NUL, invalid UTF-8, JSON nested too deep."""

from __future__ import annotations

import json

import pytest

from headwater.api.system.hygiene import (
    DEPTH_DETAIL,
    MAX_JSON_DEPTH,
    NUL_DETAIL,
    UTF8_DETAIL,
    body_problem,
    json_depth_exceeds,
)

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]


def nested(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


def test_depth_is_counted_across_arrays_and_objects() -> None:
    assert not json_depth_exceeds(nested(MAX_JSON_DEPTH))
    assert json_depth_exceeds(nested(MAX_JSON_DEPTH + 1))
    mixed = '{"a": [' * 60 + "1" + "]}" * 60
    assert json_depth_exceeds(mixed.encode()), "120 levels of objects and arrays"
    assert not json_depth_exceeds(('{"a": [' * 50 + "1" + "]}" * 50).encode())


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"note": "[" * 5000, "quoted": 'say \\"[[[[\\" ' + "{" * 500}).encode()
    assert not json_depth_exceeds(text)
    many_siblings = json.dumps([[1]] * 10_000).encode()  # wide, not deep
    assert not json_depth_exceeds(many_siblings)


def test_body_problems() -> None:
    assert body_problem(b'{"a": "\\u0000"}') == NUL_DETAIL
    assert body_problem(b'{"a": "\\\\u0000"}') is None, "an escaped backslash, then text"
    assert body_problem(b'{"a": "\xff"}') == UTF8_DETAIL
    assert body_problem('{"a": "héllo ✓"}'.encode()) is None
    assert body_problem(nested(1000)) == DEPTH_DETAIL
    assert body_problem(b"") is None

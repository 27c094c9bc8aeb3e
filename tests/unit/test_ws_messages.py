"""The /ws protocol's frames, parsed and built without a server (the e2e suite runs them live)."""

from __future__ import annotations

import json

import pytest

from headwater.api.fronts.chat_messages import (
    Answer,
    Refused,
    Say,
    Turn,
    frame_size,
    interrupt_message,
    parse_turn,
)

pytestmark = pytest.mark.unit


def frame(**fields: object) -> str:
    return json.dumps(fields)


def test_answers_resume_with_the_bare_boolean_or_the_given_value() -> None:
    for approved in (True, False):
        turn = parse_turn(frame(type="interrupt_response", thread_id="t1", approved=approved))
        assert turn == Turn("t1", Answer(approved), None)
        assert turn.request.resume is approved  # type: ignore[union-attr]
    rich = frame(type="interrupt_response", thread_id="t1", approved=True, value={"edit": 1})
    assert parse_turn(rich).request == Answer({"edit": 1})
    named = frame(type="interrupt_response", thread_id="t1", value=None, interrupt_id="abc")
    assert parse_turn(named).request == Answer({"abc": None})
    bare = frame(type="message", thread_id="t1", content="hi", assistant_id="ws_orders")
    assert parse_turn(bare.encode()) == Turn("t1", Say("hi"), "ws_orders")  # a binary frame


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("[1]", "invalid_message"),
        (frame(type="interrupt_response", thread_id="t1"), "invalid_message"),
        (frame(type="interrupt_response", thread_id="t1", approved=1), "invalid_message"),
        (
            frame(type="interrupt_response", thread_id="t", approved=True, interrupt_id=3),
            "invalid_message",
        ),
        (frame(type="message", thread_id="t1", content="hi", assistant_id=""), "invalid_message"),
        (frame(type="message", thread_id="", content="hi"), "missing_thread_id"),
        (frame(type="message", thread_id="t1", content=["hi"]), "empty_content"),
        (frame(type="ping", thread_id="t1"), "unknown_type"),
        ("", "invalid_json"),
    ],
)
def test_bad_frames_are_refused_with_their_code(raw: str, code: str) -> None:
    with pytest.raises(Refused) as refused:
        parse_turn(raw)
    assert refused.value.code == code and refused.value.message


def test_interrupt_values_are_spread_and_the_protocol_keys_win() -> None:
    pending = {"id": "i1", "value": {"action": "cancel_order", "type": "x", "thread_id": "y"}}
    assert interrupt_message("t1", pending) == {
        "type": "interrupt",
        "thread_id": "t1",
        "action": "cancel_order",
        "interrupt_id": "i1",
    }
    assert interrupt_message("t1", {"id": "i2", "value": "Proceed?"}) == {
        "type": "interrupt",
        "thread_id": "t1",
        "value": "Proceed?",
        "interrupt_id": "i2",
    }


def test_frames_are_measured_in_bytes() -> None:
    assert frame_size("é" * 10) == 20 and frame_size(b"abc") == 3

"""How a batch of stream parts travels as one bus message, and how an event id names a part.

A worker's parts that arrive within a millisecond or two travel as one message whose body
is a msgpack array of ``[event name, data bytes]`` pairs: one C call decodes a whole batch,
no JSON and no header is parsed per event. The id of a part (the SSE ``id``) is
``message sequence * PARTS_PER_MESSAGE + index in the message``: an integer, unique and
increasing in stream order, so a ``Last-Event-ID`` names one part even mid-batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

PARTS_PER_MESSAGE = 1000
"""At most this many parts share one message (the id keeps three decimal digits for them)."""

Parts = list[tuple[str, bytes]]

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(list[tuple[str, bytes]])


def event_id(seq: int, index: int) -> int:
    """The id of the ``index``-th part of the message stored at ``seq``."""
    return seq * PARTS_PER_MESSAGE + index


def message_seq(event: int) -> int:
    """The sequence of the message holding the part with id ``event``."""
    return event // PARTS_PER_MESSAGE


def last_id_of(seq: int) -> int:
    """An id at or after every part of the message at ``seq`` (and before the next one)."""
    return seq * PARTS_PER_MESSAGE + PARTS_PER_MESSAGE - 1


def encode_parts(parts: Sequence[tuple[str, bytes]]) -> bytes:
    """One message body for ``parts`` (in order)."""
    return _encoder.encode(parts)


def decode_parts(body: bytes) -> Parts:
    """The ``(event, data)`` pairs of a message body; ``ValueError`` when it is not one."""
    try:
        return _decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise ValueError(f"not an event batch: {exc}") from exc

"""Chat completion ids that name their run: ``chatcmpl-<run><thread><tag>`` (hex).

A chat completion runs on a temporary thread that is deleted with its run as soon as the
answer is out, so no row is left to map a completion id to its run, or to its owner. The id
carries both UUIDs and a tag: the first 8 bytes of an HMAC-SHA256, keyed with the server's
naming secret (``HEADWATER_ID_SECRET``, …), over the owner and the two ids. The debug stream
finds the run's event log from the id alone, on any API replica, and another owner's id (or
a made-up one) fails the tag check: 404.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

PREFIX = "chatcmpl-"
_TAG_BYTES = 8


def _tag(secret: str, owner: str, run: uuid.UUID, thread: uuid.UUID) -> bytes:
    message = owner.encode() + b"\x00" + run.bytes + thread.bytes
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()[:_TAG_BYTES]


def completion_id(secret: str, owner: str, thread_id: str, run_id: str) -> str:
    """The id of the completion answered by ``run_id`` on ``thread_id`` for ``owner``."""
    run, thread = uuid.UUID(run_id), uuid.UUID(thread_id)
    return PREFIX + (run.bytes + thread.bytes + _tag(secret, owner, run, thread)).hex()


def completion_run(secret: str, owner: str, completion: str) -> tuple[str, str] | None:
    """``(thread_id, run_id)`` behind ``owner``'s completion id; None when it is not one."""
    if not completion.startswith(PREFIX):
        return None
    try:
        raw = bytes.fromhex(completion[len(PREFIX) :])
    except ValueError:
        return None
    if len(raw) != 32 + _TAG_BYTES:
        return None
    run, thread = uuid.UUID(bytes=raw[:16]), uuid.UUID(bytes=raw[16:32])
    if not hmac.compare_digest(raw[32:], _tag(secret, owner, run, thread)):
        return None
    return str(thread), str(run)

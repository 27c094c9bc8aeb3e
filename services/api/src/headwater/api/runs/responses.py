"""How a run is answered over HTTP, once for runs on a thread and stateless runs: create
(background), create-and-stream (SSE), create-and-wait, join, and cancel with ``wait``.

A stateless run differs only in its thread (a new one) and its ``Content-Location``; the
controllers pass ``thread_id=None`` for it and share everything else here.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.response import Stream

from headwater.api.runs.relay import final_result, mode_filter, sse_events
from headwater.api.runs.service import NO_RUN_TO_CANCEL, RunService
from headwater.api.shared.errors import NotFound, Unprocessable
from headwater.api.shared.schemas import RunCreate
from headwater.api.shared.wire import run_json
from headwater.common.bus import EventSubscription
from headwater.common.db.models import RunRow

SSE_MEDIA_TYPE = "text/event-stream"  # Litestar appends "; charset=utf-8"
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
STREAM_ID_PATTERN = r"^(\d+(-(\d+|\*))?|-)$"
RUN_STREAM_ID_PATTERN = r"^(\d+(-(\d+|\*))?|-|-1)$"
"""A run's join stream also takes ``-1`` (the whole run), which JS ``useStream`` sends."""


def thread_run_path(run: RunRow) -> str:
    """``/threads/{thread_id}/runs/{run_id}``: where a run is read back (``join`` too)."""
    return f"/threads/{run.thread_id}/runs/{run.run_id}"


def _created_path(run: RunRow, thread_id: str | None) -> str:
    return thread_run_path(run) if thread_id is not None else f"/runs/{run.run_id}"


def query_modes(raw: list[str] | None) -> list[str] | None:
    """``?stream_mode=a&stream_mode=b``, ``?stream_mode=a,b`` or ``?stream_mode=["a","b"]``."""
    if not raw:
        return None
    modes: list[str] = []
    for value in raw:
        if not value:  # clients send ``stream_mode=`` for "no filter"
            continue
        if value.startswith("["):
            try:
                decoded = msgspec.json.decode(value)
            except msgspec.DecodeError as exc:
                raise Unprocessable(f"Invalid stream_mode: {value}") from exc
            if not isinstance(decoded, list) or not all(isinstance(v, str) for v in decoded):
                raise Unprocessable(f"Invalid stream_mode: {value}")
            modes.extend(decoded)
        else:
            modes.extend(part.strip() for part in value.split(",") if part.strip())
    return modes or None


def after_seq_of(last_event_id: str | None) -> int:
    """The sequence a ``Last-Event-ID`` names (``-`` or ``-1``: before everything)."""
    if not last_event_id or last_event_id in ("-", "-1"):
        return 0
    head = last_event_id.split("-", 1)[0]
    if not head.isascii() or not head.isdigit() or len(head) > 19 or int(head) >= 2**63:
        raise Unprocessable("Invalid Last-Event-ID: expected a number below 2**63")
    return int(head)


def stream_response(
    runs: RunService,
    run: RunRow,
    subscription: EventSubscription,
    *,
    cancel_on_disconnect: bool,
    location: str,
    content_location: str,
    modes: list[str] | None = None,
) -> Stream:
    """The run's events as SSE from ``subscription`` until its end event."""
    body = sse_events(
        subscription,
        runs.status_check(run.run_id),
        on_abandon=runs.canceller(run) if cancel_on_disconnect else None,
        keep=mode_filter(modes),
    )
    headers = {**SSE_HEADERS, "Location": location, "Content-Location": content_location}
    return Stream(body, media_type=SSE_MEDIA_TYPE, headers=headers)


def wait_response(
    runs: RunService, run: RunRow, subscription: EventSubscription, *, cancel_on_disconnect: bool
) -> Stream:
    """The run's final values (keep-alive newlines until then)."""
    body = final_result(
        subscription,
        runs.status_check(run.run_id),
        runs.values_fallback(run.thread_id),
        on_abandon=runs.canceller(run) if cancel_on_disconnect else None,
    )
    base = thread_run_path(run)
    headers = {"Location": f"{base}/join", "Content-Location": base}
    return Stream(body, media_type="application/json", headers=headers)


async def admit(
    runs: RunService,
    data: RunCreate,
    thread_id: str | None,
    owner: str,
    request: Request[Any, Any, Any],
) -> RunRow:
    """Create a background run (on a new thread when ``thread_id`` is None) and queue it."""
    run, run_request = await runs.admission.create(
        data, thread_id=thread_id, owner=owner, headers=request.headers
    )
    await runs.admission.submit(run, run_request)
    return run


async def create_run(
    runs: RunService,
    data: RunCreate,
    thread_id: str | None,
    owner: str,
    request: Request[Any, Any, Any],
) -> Response[dict[str, Any]]:
    """``POST …/runs``: the created run."""
    run = await admit(runs, data, thread_id, owner, request)
    return Response(run_json(run), headers={"Content-Location": _created_path(run, thread_id)})


async def create_and_stream(
    runs: RunService,
    data: RunCreate,
    thread_id: str | None,
    owner: str,
    request: Request[Any, Any, Any],
) -> Stream:
    """``POST …/runs/stream``."""
    run, subscription = await runs.admission.start(
        data, thread_id=thread_id, owner=owner, headers=request.headers
    )
    base = _created_path(run, thread_id)
    return stream_response(
        runs,
        run,
        subscription,
        cancel_on_disconnect=data.on_disconnect == "cancel",
        location=f"{base}/stream",
        content_location=base,
    )


async def create_and_wait(
    runs: RunService,
    data: RunCreate,
    thread_id: str | None,
    owner: str,
    request: Request[Any, Any, Any],
) -> Stream:
    """``POST …/runs/wait``."""
    run, subscription = await runs.admission.start(
        data, thread_id=thread_id, owner=owner, headers=request.headers
    )
    return wait_response(
        runs, run, subscription, cancel_on_disconnect=data.on_disconnect == "cancel"
    )


async def cancel_response(
    runs: RunService, run: RunRow, action: str, wait: bool
) -> Response[Any] | Stream:
    """Cancel a pending or running run: 202 once it reads ``interrupted`` (or, rolled back,
    is gone); ``wait``: 200 once it has stopped, with langgraph-api's ``{}``."""
    # Only what the run publishes from now on matters: its end.
    after = await runs.bus.last_event_seq()
    subscription = await runs.bus.subscribe_events(run.thread_id, run.run_id, after_seq=after)
    try:
        if not await runs.admission.cancel(run, action):
            raise NotFound(NO_RUN_TO_CANCEL)
        if not wait:
            await runs.settle(run, subscription, action)
            return Response(b"", status_code=202)
    except BaseException:
        await subscription.close()
        raise
    base = thread_run_path(run)
    result = final_result(subscription, runs.status_check(run.run_id), _no_values)
    return Stream(
        _stopped_body(result),
        status_code=200,
        media_type="application/json",
        headers={"Location": f"{base}/join", "Content-Location": base},
    )


async def _no_values() -> bytes:
    return b"{}"


async def _stopped_body(result: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``cancel?wait=1``: keep-alives until the run has stopped, then ``{}``: langgraph-api
    answers the values the run streamed after the cancel, and a stopped run streams none."""
    try:
        async for chunk in result:
            yield chunk if chunk == b"\n" else b"{}"
    finally:
        if isinstance(result, AsyncGenerator):
            await result.aclose()

"""One try of a fault: a client streams a run (rejoining once if it must), then every check.

The client is what a careful SSE client does: it reads ``event``/``data``/``id`` frames; when
the connection breaks, or the stream stops while the run is still active, it rejoins with
``Last-Event-ID`` (on another API replica if it has one), waiting out 503s as ``Retry-After``
says. The checks compare what it saw with the server's full replay and the thread's state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from headwater.simllm.script import generated_pieces

ACTIVE = ("pending", "running")
REJOIN_PATIENCE_S = 60.0


@dataclass(frozen=True)
class Frame:
    """One SSE event as the client received it."""

    id: int
    event: str
    data: Any
    at: float


@dataclass
class Try:
    """What the client saw of one run."""

    thread_id: str
    prompt: str
    run_id: str = ""
    frames: list[Frame] = field(default_factory=list)
    rejoins: int = 0
    breaks: list[str] = field(default_factory=list)
    """Why the client had to rejoin (transport error, stream ended early)."""
    statuses: list[int] = field(default_factory=list)
    """Every HTTP status the client was answered with."""
    started: float = field(default_factory=time.monotonic)

    @property
    def last_id(self) -> int:
        return self.frames[-1].id if self.frames else 0

    def attempt_started(self, attempt: int) -> float | None:
        """When the client got the ``metadata`` event of an attempt."""
        for frame in self.frames:
            if frame.event == "metadata" and frame.data.get("attempt") == attempt:
                return frame.at
        return None


async def _read_frames(
    response: httpx.Response, run: Try, on_frame: Callable[[Frame], None] | None
) -> None:
    event, data, ident = "message", b"", None
    async for line in response.aiter_lines():
        if line == "":
            if ident is not None:
                frame = Frame(int(ident), event, orjson.loads(data), time.monotonic())
                run.frames.append(frame)
                if frame.event == "metadata" and not run.run_id:
                    run.run_id = frame.data["run_id"]
                if on_frame is not None:
                    on_frame(frame)
            event, data, ident = "message", b"", None
        elif line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data = line[6:].encode()
        elif line.startswith("id: "):
            ident = line[4:]


async def stream_run(
    apis: list[str],
    prompt: str,
    *,
    on_frame: Callable[[Frame], None] | None = None,
    http: httpx.AsyncClient | None = None,
) -> Try:
    """Create a thread on ``apis[0]``, stream a run of the agent; rejoin on ``apis[1:]``."""
    own = http is None
    client = http or httpx.AsyncClient(timeout=httpx.Timeout(30.0, read=60.0))
    try:
        created = await _retrying(client, "POST", f"{apis[0]}/threads", json={}, statuses=None)
        run = Try(thread_id=created.json()["thread_id"], prompt=prompt)
        body = {
            "assistant_id": "agent",
            "input": {"messages": [{"role": "user", "content": prompt}]},
            "stream_mode": ["messages-tuple"],
        }
        deadline = time.monotonic() + REJOIN_PATIENCE_S
        while True:
            try:
                async with client.stream(
                    "POST", f"{apis[0]}/threads/{run.thread_id}/runs/stream", json=body
                ) as response:
                    run.statuses.append(response.status_code)
                    if response.status_code == 503 and time.monotonic() < deadline:
                        # nothing was started (a dependency is away): try again, as told
                        await asyncio.sleep(min(5.0, float(response.headers["retry-after"])))
                        continue
                    response.raise_for_status()
                    await _read_frames(response, run, on_frame)
            except httpx.TransportError as exc:
                run.breaks.append(f"{type(exc).__name__} after id {run.last_id}")
            break
        if not run.run_id:  # the stream ended before its first event: find the run
            listed = await _retrying(
                client, "GET", f"{apis[-1]}/threads/{run.thread_id}/runs", statuses=run.statuses
            )
            runs = listed.json()
            assert len(runs) == 1, f"no run was created: {run.breaks} {run.statuses}"
            run.run_id = runs[0]["run_id"]
            run.breaks.append("stream ended before the run's first event")
        await _rejoin_while_active(client, apis, run, on_frame)
        return run
    finally:
        if own:
            await client.aclose()


async def _rejoin_while_active(
    client: httpx.AsyncClient, apis: list[str], run: Try, on_frame: Callable[[Frame], None] | None
) -> None:
    deadline = time.monotonic() + REJOIN_PATIENCE_S
    replicas = apis[1:] or apis
    while time.monotonic() < deadline:
        status = await run_status(client, replicas[run.rejoins % len(replicas)], run)
        if status not in ACTIVE:
            return
        if not run.breaks or run.breaks[-1].startswith("rejoined"):
            run.breaks.append(f"stream ended with the run {status} after id {run.last_id}")
        url = f"{replicas[run.rejoins % len(replicas)]}/threads/{run.thread_id}/runs/{run.run_id}"
        try:
            async with client.stream(
                "GET", f"{url}/stream", headers={"Last-Event-ID": str(run.last_id)}
            ) as response:
                run.statuses.append(response.status_code)
                if response.status_code == 503:
                    await asyncio.sleep(min(5.0, float(response.headers.get("retry-after", 1))))
                    continue
                response.raise_for_status()
                run.rejoins += 1
                run.breaks.append(f"rejoined after id {run.last_id}")
                await _read_frames(response, run, on_frame)
        except httpx.TransportError as exc:
            run.breaks.append(f"{type(exc).__name__} after id {run.last_id}")
            await asyncio.sleep(0.5)
    raise AssertionError(f"run {run.run_id} still active after {REJOIN_PATIENCE_S} s")


async def _retrying(
    client: httpx.AsyncClient, method: str, url: str, *, statuses: list[int] | None, **kw: Any
) -> httpx.Response:
    """A plain request; 503s and refused connections are retried as a client would."""
    deadline = time.monotonic() + REJOIN_PATIENCE_S
    while True:
        try:
            response = await client.request(method, url, **kw)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
            continue
        if statuses is not None:
            statuses.append(response.status_code)
        if response.status_code == 503 and time.monotonic() < deadline:
            await asyncio.sleep(min(5.0, float(response.headers.get("retry-after", 1))))
            continue
        response.raise_for_status()
        return response


async def run_status(client: httpx.AsyncClient, api: str, run: Try) -> str:
    url = f"{api}/threads/{run.thread_id}/runs/{run.run_id}"
    response = await _retrying(client, "GET", url, statuses=run.statuses)
    return str(response.json()["status"])


async def replay(client: httpx.AsyncClient, api: str, run: Try) -> list[tuple[int, str, Any]]:
    """Every event the server holds for the run, from its first."""
    frames: list[tuple[int, str, Any]] = []
    probe = Try(thread_id=run.thread_id, prompt=run.prompt, run_id=run.run_id)
    url = f"{api}/threads/{run.thread_id}/runs/{run.run_id}/stream"
    async with client.stream("GET", url) as response:
        assert response.status_code == 200, response.status_code
        await _read_frames(response, probe, None)
    frames = [(f.id, f.event, f.data) for f in probe.frames]
    return frames


def tokens_of(frames: list[Frame] | list[tuple[int, str, Any]], message_id: str) -> list[str]:
    """The content pieces streamed for one message, in order."""
    pieces: list[str] = []
    for frame in frames:
        event, data = (frame.event, frame.data) if isinstance(frame, Frame) else frame[1:]
        if event != "messages":
            continue
        chunk = data[0]
        if chunk.get("id") == message_id and chunk.get("content"):
            pieces.append(chunk["content"])
    return pieces


async def problems_of(api: str, run: Try, *, reply_tokens: int) -> list[str]:
    """Every check of the fault suite on one try; what failed (empty: the try is good)."""
    problems: list[str] = []
    ids = [f.id for f in run.frames]
    if ids != sorted(set(ids)):
        problems.append(f"client: ids not strictly increasing ({run.breaks})")
    if run.rejoins > 1:
        problems.append(f"client: {run.rejoins} rejoins ({run.breaks})")
    if errors := [s for s in run.statuses if s >= 500 and s != 503]:
        problems.append(f"answers: {errors}")
    async with httpx.AsyncClient(timeout=30.0) as client:
        if (status := await run_status(client, api, run)) != "success":
            problems.append(f"run: {status}")
        thread = await _retrying(client, "GET", f"{api}/threads/{run.thread_id}", statuses=None)
        if (thread_status := thread.json()["status"]) != "idle":
            problems.append(f"thread: {thread_status}")
        state = await _retrying(
            client, "GET", f"{api}/threads/{run.thread_id}/state", statuses=None
        )
        messages = state.json()["values"]["messages"]
        expected = generated_pieces(reply_tokens)
        answer = messages[-1] if messages else {}
        if [m["type"] for m in messages] != ["human", "ai"] or messages[0]["content"] != run.prompt:
            problems.append(f"state: messages {[m['type'] for m in messages]}")
        if answer.get("content") != "".join(expected):
            problems.append("state: the answer is not the full reply")
        answer_id = answer.get("id", "")
        seen = tokens_of(run.frames, answer_id)
        if seen != expected:
            lost = [p for p in expected if p not in seen]
            problems.append(
                f"client: tokens {len(seen)} of {len(expected)}, {len(lost)} lost "
                f"({lost[:2]}…), {len(seen) - len(set(seen))} duplicated; breaks {run.breaks}"
            )
        server = await replay(client, api, run)
        kept = tokens_of(server, answer_id)
        if kept != expected:
            problems.append(f"replay tokens: {len(kept)} of {len(expected)}")
        client_view = [(f.id, f.event, f.data) for f in run.frames]
        if seen == expected and client_view != server:
            problems.append("client: saw other events than the server's replay")
    return problems


class ClientStreamGap(AssertionError):
    """Only the client's stream is wrong (it ended early or missed events); the run, the
    thread, the state and the server's replay are all good."""


async def check_try(api: str, run: Try, *, reply_tokens: int) -> None:
    """Every check on one try; fails with every problem found (``ClientStreamGap`` when the
    client's view is the only problem)."""
    problems = await problems_of(api, run, reply_tokens=reply_tokens)
    if any(not p.startswith("client") for p in problems):
        raise AssertionError("; ".join(problems))
    if problems:
        raise ClientStreamGap("; ".join(problems))

"""OpenAI-compatible audio transcription, proxied to a Whisper server (vLLM serves it).

``POST /v1/audio/transcriptions`` takes OpenAI's multipart form (``file``, ``model``,
``language``, ``prompt``, ``response_format`` json|text|verbose_json, ``temperature``) and
forwards it to ``HEADWATER_TRANSCRIPTION_BASE_URL`` + ``/audio/transcriptions``. Answers:
415 for a body that is not multipart or a file that is not audio, 413 over 25 MB (OpenAI's
limit), 422 for a missing or ill-typed field, 400 for a value out of range; upstream 4xx
pass through in OpenAI's error shape, upstream 5xx are 502, an unreachable upstream 503
and a slow one 504; never a 500. ``GET /api/transcribe/health`` is 200 when the upstream
answers ``/models``, else 503.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import httpx
from litestar import Controller, Litestar, Request, Response, get, post
from litestar.datastructures import State, UploadFile
from litestar.exceptions import ClientException

from headwater.common.settings import Settings

log = logging.getLogger(__name__)
MAX_FILE_BYTES = 25 * 1024 * 1024
MAX_BODY_BYTES = MAX_FILE_BYTES + 1024 * 1024  # the form's other fields and boundaries
UPSTREAM_TIMEOUT_S = 300.0
HEALTH_TIMEOUT_S = 3.0
FORMATS = frozenset({"json", "text", "verbose_json"})
AUDIO_EXTENSIONS = frozenset(
    {"flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "oga", "opus", "wav", "webm"}
)
AUDIO_TYPES = ("audio/", "video/mp4", "video/webm", "video/mpeg")


def _error(status: int, message: str, kind: str, param: str | None = None) -> Response[Any]:
    body = {"error": {"message": message, "type": kind, "param": param, "code": status}}
    return Response(body, status_code=status)


@dataclass(frozen=True, slots=True)
class Upstream:
    """The transcription server: its client, and the model name it serves (if set)."""

    client: httpx.AsyncClient
    model: str


def transcription_upstream(
    settings: Settings,
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """A lifespan owning the HTTP client of the transcription server (None when unset)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        base = settings.transcription_base_url.rstrip("/")
        if not base:
            app.state.transcription = None
            yield
            return
        key = settings.transcription_api_key or settings.llm_api_key
        async with httpx.AsyncClient(
            base_url=base + "/",
            timeout=httpx.Timeout(UPSTREAM_TIMEOUT_S, connect=5.0),
            headers={"Authorization": f"Bearer {key}"} if key else {},
        ) as client:
            app.state.transcription = Upstream(client, settings.transcription_model)
            yield

    return lifespan


async def _binary_body(request: Request[Any, Any, Any]) -> None:
    """This route's ``before_request``: audio is binary, so the app's NUL check (which
    guards what gets stored) does not apply; nothing of the body is stored."""
    return None


def _is_audio(upload: UploadFile) -> bool:
    suffix = PurePosixPath(upload.filename or "").suffix.lower().lstrip(".")
    if suffix:
        return suffix in AUDIO_EXTENSIONS
    return (upload.content_type or "").lower().startswith(AUDIO_TYPES)


def _fields(form: Any, model_override: str) -> dict[str, str] | Response[Any]:
    """The form fields to forward, or the error answer."""
    fields: dict[str, str] = {}
    for name in ("model", "language", "prompt", "response_format", "temperature"):
        value = form.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            return _error(422, f"`{name}` must be a text field.", "invalid_request_error", name)
        fields[name] = value
    if not fields.get("model"):
        return _error(422, "`model` is required.", "invalid_request_error", "model")
    if fields.get("response_format", "json") not in FORMATS:
        return _error(
            400,
            f"`response_format` must be one of {sorted(FORMATS)}.",
            "invalid_request_error",
            "response_format",
        )
    if "temperature" in fields:
        try:
            temperature = float(fields["temperature"])
        except ValueError:
            return _error(
                422, "`temperature` must be a number.", "invalid_request_error", "temperature"
            )
        if not 0.0 <= temperature <= 1.0:
            return _error(
                400,
                "`temperature` must be between 0 and 1.",
                "invalid_request_error",
                "temperature",
            )
    if model_override:
        fields["model"] = model_override
    return fields


def _upstream_error(response: httpx.Response) -> Response[Any]:
    message = response.text[:500] or response.reason_phrase
    with contextlib.suppress(ValueError):
        body = response.json()
        if isinstance(body, dict):
            inner: dict[str, Any] = body["error"] if isinstance(body.get("error"), dict) else body
            message = str(inner.get("message") or inner.get("detail") or message)
    if response.status_code >= 500:
        return _error(502, f"The transcription server failed: {message}", "upstream_error")
    status = response.status_code if response.status_code in (400, 404, 413, 415, 422) else 400
    return _error(status, message, "invalid_request_error")


class TranscriptionController(Controller):
    """``POST /v1/audio/transcriptions`` and ``GET /api/transcribe/health``."""

    tags = ["OpenAI-compatible"]

    @post(
        "/v1/audio/transcriptions",
        status_code=200,
        request_max_body_size=MAX_BODY_BYTES,
        before_request=_binary_body,
    )
    async def transcribe(self, request: Request[Any, Any, Any], state: State) -> Response[Any]:
        """Transcribe an audio file (OpenAI's form; the Whisper server does the work)."""
        upstream: Upstream | None = state.get("transcription")
        if upstream is None:
            return _error(
                503,
                "Transcription is not configured (HEADWATER_TRANSCRIPTION_BASE_URL).",
                "unavailable",
            )
        if request.content_type[0] != "multipart/form-data":
            return _error(
                415, "Send the audio as multipart/form-data.", "invalid_request_error", "file"
            )
        try:
            form = await request.form()
        except ClientException as exc:
            if exc.status_code == 413 or "too large" in str(exc.detail).lower():
                return _error(
                    413, "The file is larger than 25 MB.", "invalid_request_error", "file"
                )
            return _error(400, f"Invalid multipart body: {exc.detail}", "invalid_request_error")
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            return _error(422, "`file` must be an uploaded file.", "invalid_request_error", "file")
        data = await upload.read()
        if len(data) > MAX_FILE_BYTES:
            return _error(413, "The file is larger than 25 MB.", "invalid_request_error", "file")
        if not _is_audio(upload):
            return _error(
                415,
                f"Unsupported file format; supported: {sorted(AUDIO_EXTENSIONS)}.",
                "invalid_request_error",
                "file",
            )
        fields = _fields(form, upstream.model)
        if isinstance(fields, Response):
            return fields
        files = {"file": (upload.filename or "audio", data, upload.content_type or "audio/wav")}
        try:
            answer = await upstream.client.post("audio/transcriptions", data=fields, files=files)
        except httpx.TimeoutException:
            return _error(504, "The transcription server did not answer in time.", "upstream_error")
        except httpx.HTTPError as exc:
            log.warning("transcription upstream unreachable: %s", exc)
            return _error(503, "The transcription server is unreachable.", "unavailable")
        if answer.status_code != 200:
            return _upstream_error(answer)
        media_type = answer.headers.get("content-type", "application/json")
        return Response(answer.content, media_type=media_type, status_code=200)

    @get("/api/transcribe/health")
    async def health(self, state: State) -> Response[dict[str, Any]]:
        """200 when the transcription server answers, 503 when it is not configured or down."""
        upstream: Upstream | None = state.get("transcription")
        if upstream is None:
            return Response({"status": "unavailable", "reason": "not configured"}, status_code=503)
        try:
            answer = await upstream.client.get("models", timeout=HEALTH_TIMEOUT_S)
        except httpx.HTTPError as exc:
            return Response(
                {"status": "unavailable", "reason": type(exc).__name__}, status_code=503
            )
        if answer.status_code != 200:
            return Response(
                {"status": "unavailable", "reason": f"upstream answered {answer.status_code}"},
                status_code=503,
            )
        return Response({"status": "ok"})

"""Which ``HEADWATER_*`` settings each sub-command reads, for its ``--help``."""

from __future__ import annotations

from headwater.common.settings import ENV_DOCS

_LOGS = ["HEADWATER_LOG_LEVEL", "HEADWATER_LOG_FORMAT", "HEADWATER_TRACE_FILE"]
_BUS = [
    "HEADWATER_NATS_URL",
    "HEADWATER_NAMESPACE",
    "HEADWATER_ACK_WAIT_S",
    "HEADWATER_MAX_DELIVER",
    "HEADWATER_EVENT_RETENTION_S",
    "HEADWATER_STREAM_REPLICAS",
    "HEADWATER_EVENT_BATCH_WINDOW_S",
    "HEADWATER_EVENT_PUBLISH_RETRY_S",
    "HEADWATER_EVENT_PENDING_BYTES",
    "HEADWATER_STREAM_BUFFER_BYTES",
]
_DEV_BUS = ["HEADWATER_FINISHED_RUN_RETENTION_S", "HEADWATER_EVENT_MEMORY_BYTES"]
_AUTH = [
    "HEADWATER_AUTH",
    "HEADWATER_API_KEYS",
    "HEADWATER_JWT_SECRET",
    "HEADWATER_JWKS_URL",
    "HEADWATER_JWT_AUDIENCE",
    "HEADWATER_JWT_ISSUER",
    "HEADWATER_JWT_LEEWAY_S",
    "HEADWATER_ID_SECRET",
]
_LLM = ["HEADWATER_LLM_BASE_URL", "HEADWATER_LLM_MODEL", "HEADWATER_LLM_API_KEY"]
_HTTP = [
    "HEADWATER_HEADER_TIMEOUT_S",
    "HEADWATER_BODY_TIMEOUT_S",
    "HEADWATER_MAX_HEADER_BYTES",
]
_STORE = [
    "HEADWATER_STORE_URL",
    "HEADWATER_EMBEDDINGS_BASE_URL",
    "HEADWATER_EMBEDDINGS_MODEL",
    "HEADWATER_EMBEDDINGS_API_KEY",
]
_API = [
    "HEADWATER_CONFIG",
    "HEADWATER_HOST",
    "HEADWATER_PORT",
    "HEADWATER_DATABASE_URL",
    "HEADWATER_MEMORY_URL",
    "HEADWATER_REQUEST_TIMEOUT_S",
    "HEADWATER_CORS_ORIGINS",
    "HEADWATER_DEFAULT_ASSISTANT",
    "HEADWATER_WS_SESSION_TTL_S",
    "HEADWATER_WS_MAX_MESSAGE_BYTES",
    "HEADWATER_THREAD_SWEEP_S",
    "HEADWATER_CRON_POLL_S",
    "HEADWATER_SSE_KEEPALIVE_S",
    "HEADWATER_STATUS_CHECK_S",
    "HEADWATER_STREAM_GIVE_UP_S",
    "HEADWATER_DB_POOL_SIZE",
    "HEADWATER_DB_MAX_OVERFLOW",
    "HEADWATER_DB_POOL_TIMEOUT_S",
    "HEADWATER_SERVICE_TOKEN",
    "HEADWATER_TRANSCRIPTION_BASE_URL",
    "HEADWATER_TRANSCRIPTION_MODEL",
    "HEADWATER_TRANSCRIPTION_API_KEY",
    "HEADWATER_LLM_API_KEY",
    "HEADWATER_TRACES_URL",
    "HEADWATER_WORKER_HEARTBEAT_S",
    *_HTTP,
    *_AUTH,
]
_WORKER = [
    "HEADWATER_CONFIG",
    "HEADWATER_HOST",
    "HEADWATER_METRICS_PORT",
    "HEADWATER_DATABASE_URL",
    "HEADWATER_CHECKPOINT_URL",
    "HEADWATER_MEMORY_URL",
    "HEADWATER_WORKER_CONCURRENCY",
    "HEADWATER_DRAIN_TIMEOUT_S",
    "HEADWATER_RUN_TIMEOUT_S",
    "HEADWATER_STUCK_RUN_AFTER_S",
    "HEADWATER_REQUEST_TIMEOUT_S",
    "HEADWATER_SERVICE_TOKEN",
    "HEADWATER_DB_RETRY_S",
    "HEADWATER_BUS_RETRY_S",
    "HEADWATER_WORKER_HEARTBEAT_S",
    *_LLM,
]
_MEMORY = [
    "HEADWATER_CONFIG",
    "HEADWATER_HOST",
    "HEADWATER_PORT",
    "HEADWATER_DATABASE_URL",
    "HEADWATER_SERVICE_TOKEN",
    *_HTTP,
    *_STORE,
    *_LLM,
]


def _unique(*groups: list[str]) -> list[str]:
    return list(dict.fromkeys(name for group in groups for name in group))


_IN_PROCESS_BUS = [n for n in _BUS if n not in ("HEADWATER_NATS_URL", "HEADWATER_NAMESPACE")]
SETTINGS_BY_COMMAND: dict[str, list[str]] = {
    "dev": _unique(
        [n for n in _API + _WORKER + _MEMORY if n != "HEADWATER_METRICS_PORT"],
        [n for n in _IN_PROCESS_BUS if n != "HEADWATER_STREAM_REPLICAS"],
        _DEV_BUS,
        _LOGS,
    ),
    "api": _unique(_API, _BUS, _LOGS),
    "worker": _unique(_WORKER, _BUS, _LOGS),
    "memory": _unique(_MEMORY, _LOGS),
    "migrate": _unique(
        ["HEADWATER_CONFIG", "HEADWATER_DATABASE_URL", "HEADWATER_CHECKPOINT_URL"],
        _STORE,
        _BUS,
        _LOGS,
    ),
    "simllm": [],
    "dockerfile": ["HEADWATER_CONFIG"],
}
"""Every setting a sub-command reads, for its ``--help`` (a test compares it to the code)."""


def env_epilog(names: list[str]) -> str:
    """The ``environment:`` section of a ``--help``."""
    if not names:
        return "environment: none (configured by its options)"
    return "environment:\n" + "\n".join(f"  {n:<30} {ENV_DOCS[n]}" for n in names)

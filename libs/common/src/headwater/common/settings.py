"""Settings read once from ``HEADWATER_*`` environment variables and passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

DEFAULT_PORT = 8123


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a Headwater process can be configured with.

    Every field maps to ``HEADWATER_<FIELD NAME IN CAPS>``; see :data:`ENV_DOCS`.
    """

    config: str = "examples/agent/langgraph.json"
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    nats_url: str = "nats://127.0.0.1:4222"
    database_url: str = "sqlite+aiosqlite:///.headwater/headwater.sqlite"
    checkpoint_url: str = ""
    store_url: str = ""
    embeddings_base_url: str = ""
    embeddings_model: str = "headwater-sim"
    embeddings_api_key: str = ""
    memory_url: str = ""
    llm_base_url: str = ""
    llm_model: str = "headwater-sim"
    llm_api_key: str = "EMPTY"
    namespace: str = "hw"
    worker_concurrency: int = 8
    ack_wait_s: float = 4.0
    max_deliver: int = 3
    drain_timeout_s: float = 25.0
    stream_replicas: int = 1
    event_retention_s: float = 3600.0
    request_timeout_s: float = 10.0
    log_level: str = "info"
    cors_origins: str = "*"
    default_assistant: str = ""
    ws_session_ttl_s: float = 1800.0
    ws_max_message_bytes: int = 32768
    log_format: str = ""
    run_timeout_s: float = 86400.0
    stuck_run_after_s: float = 60.0
    auth: str = "none"
    api_keys: str = ""
    jwt_secret: str = ""
    jwks_url: str = ""
    jwt_audience: str = ""
    jwt_issuer: str = ""
    jwt_leeway_s: float = 30.0
    metrics_port: int = 9464
    cron_poll_s: float = 1.0
    thread_sweep_s: float = 60.0
    id_secret: str = ""
    sse_keepalive_s: float = 2.5
    transcription_base_url: str = ""
    transcription_model: str = ""
    transcription_api_key: str = ""
    service_token: str = ""
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_header_bytes: int = 32768
    db_retry_s: float = 30.0
    bus_retry_s: float = 30.0
    event_batch_window_s: float = 0.001
    event_publish_retry_s: float = 60.0
    event_pending_bytes: int = 1 << 20
    finished_run_retention_s: float = 120.0
    event_memory_bytes: int = 256 << 20
    stream_buffer_bytes: int = 8 << 20
    status_check_s: float = 2.0
    stream_give_up_s: float = 60.0
    db_pool_size: int = 10
    db_max_overflow: int = 20
    db_pool_timeout_s: float = 30.0
    worker_heartbeat_s: float = 1.0
    traces_url: str = ""

    @property
    def naming_secret(self) -> str:
        """What keys the thread ids of named sessions: ``HEADWATER_ID_SECRET``, else a secret
        the deployment has anyway (the JWT secret, the API keys); empty without any."""
        return self.id_secret or self.jwt_secret or self.api_keys

    @property
    def store_dsn(self) -> str:
        """Where the memory service keeps store items (SQLite: a file of its own)."""
        if self.store_url:
            return self.store_url
        dsn = checkpoint_dsn_from(self.database_url)
        return (
            dsn.replace("-checkpoints.sqlite", "-store.sqlite") if dsn.endswith(".sqlite") else dsn
        )

    @property
    def checkpoint_dsn(self) -> str:
        """Where LangGraph checkpoints live: explicit, else derived from ``database_url``."""
        if self.checkpoint_url:
            return self.checkpoint_url
        return checkpoint_dsn_from(self.database_url)


ENV_DOCS: dict[str, str] = {
    "HEADWATER_CONFIG": "path of the langgraph.json to serve (default: ./langgraph.json if there is one, else the example agent)",
    "HEADWATER_HOST": "API bind address (default 127.0.0.1)",
    "HEADWATER_PORT": "API port (default 8123)",
    "HEADWATER_NATS_URL": "NATS server URL for cluster mode (default nats://127.0.0.1:4222)",
    "HEADWATER_DATABASE_URL": "SQLAlchemy URL: postgresql+asyncpg://… or sqlite+aiosqlite:///…",
    "HEADWATER_CHECKPOINT_URL": "LangGraph checkpointer DSN (default: derived from the database URL)",
    "HEADWATER_MEMORY_URL": "base URL of the memory service the API forwards /store to (dev: started in-process)",
    "HEADWATER_STORE_URL": "store DSN of the memory service (default: derived from the database URL)",
    "HEADWATER_EMBEDDINGS_BASE_URL": "OpenAI/vLLM /v1 base URL for embeddings: store items are embedded when written and searches rank by meaning (default: full-text ranking)",
    "HEADWATER_EMBEDDINGS_MODEL": "embedding model asked for when langgraph.json has no store.index (default headwater-sim)",
    "HEADWATER_EMBEDDINGS_API_KEY": "API key sent to the embeddings endpoint (default: HEADWATER_LLM_API_KEY)",
    "HEADWATER_LLM_BASE_URL": "OpenAI-compatible base URL of vLLM, e.g. http://vllm:8000/v1 (alias: VLLM_BASE_URL)",
    "HEADWATER_LLM_MODEL": "model name sent to the LLM (default headwater-sim; alias: VLLM_MODEL_NAME)",
    "HEADWATER_LLM_API_KEY": "API key sent to the LLM (default EMPTY)",
    "HEADWATER_NAMESPACE": "prefix of every NATS stream, subject and consumer (default hw)",
    "HEADWATER_WORKER_CONCURRENCY": "runs one worker executes at once (default 8)",
    "HEADWATER_ACK_WAIT_S": "seconds without a heartbeat before a run is redelivered to another worker; workers heartbeat every quarter of it (default 4)",
    "HEADWATER_MAX_DELIVER": "attempts per run before it is failed (default 3)",
    "HEADWATER_WORKER_HEARTBEAT_S": "seconds between a worker's writes of its registry row and of its runs' heartbeats; a worker silent for 3 of them is stale and its runs may be taken over (default 1; keep it at most a quarter of HEADWATER_ACK_WAIT_S)",
    "HEADWATER_STREAM_REPLICAS": "JetStream replicas of the RUNS and EVENTS streams (default 1; 3 in a NATS cluster)",
    "HEADWATER_DRAIN_TIMEOUT_S": "seconds a worker finishes in-flight runs after SIGTERM (default 25)",
    "HEADWATER_EVENT_RETENTION_S": "seconds run events stay replayable (default 3600)",
    "HEADWATER_REQUEST_TIMEOUT_S": "timeout of API→worker requests such as thread state (default 10)",
    "HEADWATER_LOG_LEVEL": "debug | info | warning (default info)",
    "HEADWATER_CORS_ORIGINS": "comma-separated origins allowed by CORS (default *)",
    "HEADWATER_DEFAULT_ASSISTANT": "graph or assistant the simple run API and /ws use (default: the first graph)",
    "HEADWATER_WS_SESSION_TTL_S": "seconds a /ws conversation may stay idle before it expires and its thread is deleted (default 1800; 0: at once)",
    "HEADWATER_WS_MAX_MESSAGE_BYTES": "largest WebSocket message accepted (default 32768)",
    "HEADWATER_RUN_TIMEOUT_S": "seconds a run may take before it ends with status timeout (default 86400)",
    "HEADWATER_STUCK_RUN_AFTER_S": "a run pending this long whose request is no longer in the queue is republished (default 60)",
    "HEADWATER_AUTH": "none | apikey | jwt (default none: every caller is the same anonymous user)",
    "HEADWATER_API_KEYS": "with auth=apikey: comma-separated key:user pairs",
    "HEADWATER_JWT_SECRET": "with auth=jwt: HS256 secret (Supabase's default)",
    "HEADWATER_JWKS_URL": "with auth=jwt: JWKS URL for RS256/ES256 tokens (keys cached and refreshed)",
    "HEADWATER_JWT_AUDIENCE": "with auth=jwt: required aud claim",
    "HEADWATER_JWT_ISSUER": "with auth=jwt: required iss claim",
    "HEADWATER_JWT_LEEWAY_S": "with auth=jwt: clock-skew leeway in seconds (default 30)",
    "HEADWATER_LOG_FORMAT": "text | json (default: text for dev, json for cluster services)",
    "HEADWATER_METRICS_PORT": "port of a worker's Prometheus /metrics (default 9464; 0 turns it off)",
    "HEADWATER_TRACE_FILE": "append finished spans as JSON lines to this file (besides any OTEL_* exporter)",
    "HEADWATER_ID_SECRET": "keys the thread ids of /v1/runs sessions and /ws thread names (default: the JWT secret or the API keys); set it with JWKS-only auth",
    "HEADWATER_THREAD_SWEEP_S": "seconds between the API's sweeps of threads past their ttl (default 60; 0 turns it off on this replica)",
    "HEADWATER_CRON_POLL_S": "seconds between the API's looks for due crons (default 1; 0 turns the scheduler off on this replica)",
    "HEADWATER_SSE_KEEPALIVE_S": "longest quiet spell on an SSE response before a keep-alive comment is sent (default 2.5; keep it under 5)",
    "HEADWATER_TRANSCRIPTION_BASE_URL": "OpenAI-compatible /v1 base URL that serves /audio/transcriptions (vLLM with a Whisper model); unset: /v1/audio/transcriptions answers 503",
    "HEADWATER_TRANSCRIPTION_MODEL": "model name sent upstream for transcriptions (default: the client's model)",
    "HEADWATER_TRANSCRIPTION_API_KEY": "API key sent to the transcription server (default: HEADWATER_LLM_API_KEY)",
    "HEADWATER_SERVICE_TOKEN": "shared secret the API and workers send to the memory service, which refuses callers without it (required by `headwater memory`; dev: a random one per start)",
    "HEADWATER_HEADER_TIMEOUT_S": "seconds a client has to send a request's headers before the connection is closed (default 10)",
    "HEADWATER_BODY_TIMEOUT_S": "seconds a client has to send a request's body once its headers are in (default 30; 408 then)",
    "HEADWATER_MAX_HEADER_BYTES": "largest request line plus headers accepted (default 32768; 431 beyond)",
    "HEADWATER_DB_RETRY_S": "seconds a worker retries a database write (run status, thread state, checkpoints) while the database is unreachable (default 30)",
    "HEADWATER_BUS_RETRY_S": "seconds a worker retries publishing a run's end while NATS is unreachable (default 30)",
    "HEADWATER_EVENT_BATCH_WINDOW_S": "a run's stream parts published within this long of the previous message share the next one (default 0.001)",
    "HEADWATER_EVENT_PUBLISH_RETRY_S": "seconds a worker retries storing a batch of events while NATS is unreachable before it gives up (default 60)",
    "HEADWATER_EVENT_PENDING_BYTES": "unsent event bytes per thread before a publisher waits (back-pressure; default 1048576)",
    "HEADWATER_FINISHED_RUN_RETENTION_S": "dev bus: seconds a finished run's events stay for joins and reconnects (default 120)",
    "HEADWATER_EVENT_MEMORY_BYTES": "dev bus: event bytes kept in memory before the oldest finished runs are dropped (default 268435456)",
    "HEADWATER_STREAM_BUFFER_BYTES": "event bytes buffered for one slow stream reader before it is dropped (it can resume with Last-Event-ID; default 8388608)",
    "HEADWATER_STATUS_CHECK_S": "seconds between the API's one shared status query for the runs streams wait on (default 2)",
    "HEADWATER_STREAM_GIVE_UP_S": "seconds a stream waits for the bus after the run is final before it ends with an error event (default 60)",
    "HEADWATER_DB_POOL_SIZE": "PostgreSQL connections each process keeps (default 10)",
    "HEADWATER_DB_MAX_OVERFLOW": "PostgreSQL connections opened beyond the pool under load (default 20)",
    "HEADWATER_DB_POOL_TIMEOUT_S": "seconds a request waits for a database connection before it is answered 503 (default 30)",
    "HEADWATER_TRACES_URL": "link to a run's trace, e.g. http://jaeger:16686/trace/{trace_id} ({run_id} works too); the run inspector and the console show it (default: no link)",
}


ALIASES: dict[str, str] = {"llm_base_url": "VLLM_BASE_URL", "llm_model": "VLLM_MODEL_NAME"}
"""Common names some settings are also read from; the ``HEADWATER_*`` name wins when both are set."""


def load_settings(env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build :class:`Settings` from ``env`` (default ``os.environ``) plus explicit overrides."""
    source = os.environ if env is None else env
    raw: dict[str, object] = {}
    for field in msgspec.structs.fields(Settings):
        value = source.get(f"HEADWATER_{field.name.upper()}")
        if (value is None or value == "") and field.name in ALIASES:
            value = source.get(ALIASES[field.name])
        if value is not None and value != "":
            raw[field.name] = value
    raw.update({k: v for k, v in overrides.items() if v is not None})
    return msgspec.convert(raw, Settings, strict=False)


def checkpoint_dsn_from(database_url: str) -> str:
    """Translate a SQLAlchemy URL into the DSN the official checkpointers take."""
    if database_url.startswith("postgresql"):
        rest = database_url.split("://", 1)[1]
        return f"postgresql://{rest}"
    if database_url.startswith("sqlite"):
        path = database_url.split(":///", 1)[1] if ":///" in database_url else ":memory:"
        if path in ("", ":memory:"):
            return ":memory:"
        return str(Path(path).with_name(Path(path).stem + "-checkpoints.sqlite"))
    raise ValueError(f"unsupported database URL: {database_url!r}")

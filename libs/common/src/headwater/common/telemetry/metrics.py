"""Prometheus metrics of every service (one process registry; ``headwater dev`` shows all)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "headwater_http_requests_total",
    "HTTP requests by route and status",
    ["method", "route", "status"],
)
RUNS_CREATED = Counter("headwater_runs_created_total", "Runs admitted by the API")
RUNS_FINISHED = Counter(
    "headwater_runs_finished_total", "Runs finished by a worker, by final status", ["status"]
)
RUN_ATTEMPTS = Counter(
    "headwater_run_attempts_total", "Run deliveries a worker started (redeliveries included)"
)
QUEUE_PENDING = Gauge(
    "headwater_queue_pending_runs", "Run requests waiting in the queue (consumer lag)"
)
QUEUE_IN_FLIGHT = Gauge(
    "headwater_queue_unacknowledged_runs", "Run requests delivered but not yet acknowledged"
)
TIME_TO_FIRST_TOKEN = Histogram(
    "headwater_llm_time_to_first_token_seconds",
    "LLM call start to its first streamed token",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
INTER_TOKEN = Histogram(
    "headwater_llm_inter_token_seconds",
    "Time between consecutive streamed tokens of one LLM call",
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5),
)
ACTIVE_STREAMS = Gauge("headwater_active_streams", "Open event streams by kind", ["kind"])
WORKER_RUNS_IN_USE = Gauge("headwater_worker_runs_in_progress", "Runs a worker is executing now")
WORKER_CONCURRENCY = Gauge("headwater_worker_concurrency", "Runs a worker may execute at once")
QUEUE_REDELIVERED = Gauge(
    "headwater_queue_redelivered_runs",
    "Run requests delivered more than once and not yet acknowledged (workers died or stalled)",
)
QUEUE_OLDEST_PENDING = Gauge(
    "headwater_queue_oldest_pending_seconds",
    "Age of the oldest run still pending (how far behind the workers are; 0: none waits)",
)

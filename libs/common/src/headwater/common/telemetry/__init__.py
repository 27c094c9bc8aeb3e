"""Traces (OpenTelemetry), metrics (Prometheus) and structured logs, shared by every service."""

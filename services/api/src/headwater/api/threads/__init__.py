"""Threads: the controller, ownership checks, copy/prune/delete maintenance, TTL sweeps, state and the thread-level stream."""

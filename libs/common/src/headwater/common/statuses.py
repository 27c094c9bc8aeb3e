"""The statuses a run and a thread can be in, as types (a typo is a mypy error, not a
silent mismatch). The values are the LangGraph Server API's, stored as they are."""

from __future__ import annotations

from typing import Literal, get_args

RunStatus = Literal["pending", "running", "success", "error", "timeout", "interrupted"]
"""``pending`` (queued or waiting its turn), ``running``, or a final status."""
ActiveRunStatus = Literal["pending", "running"]
"""A run that has not ended: what a cancel stops and what keeps its thread ``busy``."""
FinalRunStatus = Literal["success", "error", "timeout", "interrupted"]
ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
"""``busy`` while a run is active; otherwise how its last run left it."""

ACTIVE_RUN_STATUSES: tuple[ActiveRunStatus, ...] = get_args(ActiveRunStatus)
FINAL_RUN_STATUSES: tuple[FinalRunStatus, ...] = get_args(FinalRunStatus)

"""Runs on a thread and stateless runs: controllers, admission (multitask strategies), cancel, and the LangGraph SSE relay."""

"""Headwater simllm."""

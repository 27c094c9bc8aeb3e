#!/usr/bin/env bash
# Quick start, command 1: run Headwater in one process (API + worker + LLM simulator) on :8123.
source "$(dirname "$0")/bootstrap.sh"
exec uv run --frozen headwater dev "$@"

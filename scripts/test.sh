#!/usr/bin/env bash
# Quick start, command 2: run the whole test suite (unit, contract, integration, e2e).
# Needs PostgreSQL on 127.0.0.1:5432 and the nats-server binary (see README).
source "$(dirname "$0")/bootstrap.sh"
exec uv run --frozen pytest "$@"

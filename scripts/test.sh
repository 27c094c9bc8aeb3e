#!/usr/bin/env bash
# Quick start, command 2: run the whole test suite (unit, contract, integration, e2e).
# Needs nothing installed: NATS and PostgreSQL come from PyPI wheels unless
# HEADWATER_TEST_DATABASE_URL / HEADWATER_TEST_NATS_URL name servers to use (see README).
source "$(dirname "$0")/bootstrap.sh"
exec uv run --frozen pytest "$@"

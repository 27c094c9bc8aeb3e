#!/usr/bin/env bash
# Quick start, command 1: run Headwater in one process (API + worker + LLM simulator) on :8123.
# It runs from the checkout; paths you give (--config, HEADWATER_CONFIG, --rules) are read
# against the folder you called it from. Without a config it serves the example agent.
CALLER_DIR="$(pwd)"
source "$(dirname "$0")/bootstrap.sh"   # cd's into the checkout

absolute() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$CALLER_DIR" "$1" ;; esac; }

args=()
given_config=""
while [ $# -gt 0 ]; do
  case "$1" in
    --config|--rules) args+=("$1" "$(absolute "${2:?$1 needs a value}")"); [ "$1" = --config ] && given_config=1; shift 2 ;;
    --config=*|--rules=*) args+=("${1%%=*}" "$(absolute "${1#*=}")"); [ "${1%%=*}" = --config ] && given_config=1; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
if [ -n "${HEADWATER_CONFIG:-}" ]; then
  export HEADWATER_CONFIG="$(absolute "$HEADWATER_CONFIG")"
elif [ -z "$given_config" ]; then
  args+=(--config "$ROOT/examples/agent/langgraph.json")
fi
exec uv run --frozen headwater dev "${args[@]}"

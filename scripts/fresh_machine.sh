#!/usr/bin/env bash
# Proof that the README's two commands work on a machine with only Python and uv.
#
#   sudo bash scripts/fresh_machine.sh [pytest args for command 2, e.g. -m unit]
#
# A Linux network namespace (`ip netns`) has its own loopback: no PostgreSQL, NATS or Redis
# of this machine listens there, and nothing there reaches the network. A private mount
# namespace hides this machine's server programs (nats-server, postgres, psql, redis-server,
# /usr/lib/postgresql) behind empty files. Inside, with `env -i`, a fresh HOME and a PATH that
# is one folder holding python3, uv and the basics bash, coreutils, git and curl need (no
# LANG or LC_*: the C locale), it:
#   1. git clones the checkout's HEAD (committed work only) into a temporary folder;
#   2. runs `bash scripts/dev.sh` (README command 1), waits for /health, streams a run with
#      the README's curl line and runs the README's langgraph-sdk snippet, then Ctrl-C;
#   3. runs `bash scripts/test.sh "$@"` (README command 2).
# Honest limits: the namespace has no network, so uv installs from this machine's uv cache
# (UV_CACHE_DIR, UV_OFFLINE=1), filled beforehand by a normal `uv sync` of the checkout; the
# Python interpreter is this machine's (UV_PYTHON_DOWNLOADS=never). Needs root, iproute2 and
# util-linux's unshare. FRESH_MACHINE_KEEP=1 keeps the folder; FRESH_MACHINE_SKIP_DEV=1 skips 2.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
step() { printf '== %s\n' "$*" >&2; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "needs root (ip netns, mounts)"
command -v ip >/dev/null || fail "needs iproute2's ip"
command -v unshare >/dev/null || fail "needs util-linux's unshare"

PYTHON="${PYTHON:-$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')}"
UV="$(command -v uv || echo "$HOME/.local/bin/uv")"
[ -x "$UV" ] || fail "uv not found (source scripts/bootstrap.sh once)"
CACHE="${UV_CACHE_DIR:-$("$UV" cache dir)}"

WORK="$(mktemp -d /tmp/hw-fresh-XXXXXX)"
chmod 755 "$WORK"   # as root, the embedded PostgreSQL runs as an unprivileged account
NS="hw-fresh-$$"
cleanup() {
  # Whatever still runs in our namespace is ours (started by this script): stop it by pid.
  for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  ip netns delete "$NS" 2>/dev/null || true
  [ -n "${FRESH_MACHINE_KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

step "a PATH with only python3, uv and the basics: $WORK/bin"
mkdir -p "$WORK/bin" "$WORK/home"
ln -s "$PYTHON" "$WORK/bin/python3"
ln -s "$UV" "$WORK/bin/uv"
for tool in bash sh env cat ls mkdir rmdir rm cp mv ln dirname basename pwd readlink realpath \
  sleep mktemp chmod head tail tr cut sort uniq wc date id uname tee touch test true false \
  printf echo expr seq stat kill nproc grep sed awk git curl; do
  found="$(command -v "$tool" || true)"
  case "$found" in /*) ln -sf "$found" "$WORK/bin/$tool" ;; esac
done

# The machine's server programs, hidden in the private mount namespace.
HIDE=()
for program in nats-server postgres pg_ctl initdb psql pg_ctlcluster redis-server; do
  found="$(command -v "$program" || true)"
  [ -n "$found" ] && HIDE+=("$(readlink -f "$found")" "$found")
done
[ -d /usr/lib/postgresql ] && HIDE+=(/usr/lib/postgresql)

step "network namespace $NS: its own loopback, nothing listening, no network"
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up

# `inside CMD`: CMD in the namespace, hidden programs, empty environment, fresh HOME.
inside() {
  ip netns exec "$NS" unshare --mount --propagation private bash -c '
    set -e
    for target in "$@"; do
      case "$target" in --) break ;; esac
      if [ -d "$target" ]; then mount -t tmpfs -o ro,size=4k hidden "$target"
      elif [ -e "$target" ]; then mount --bind /dev/null "$target"; fi
    done
    while [ "$1" != -- ]; do shift; done; shift
    exec env -i HOME="'"$WORK/home"'" PATH="'"$WORK/bin"'" TERM=dumb \
      UV_CACHE_DIR="'"$CACHE"'" UV_OFFLINE=1 UV_PYTHON_DOWNLOADS=never UV_NO_PROGRESS=1 \
      "$@"' hide "${HIDE[@]}" -- "$@"
}

step "what the namespace offers: no server program, no server listening"
inside bash -c '
  for program in nats-server postgres pg_ctl initdb psql redis-server; do
    if found="$(command -v "$program")"; then echo "FAIL: $program on PATH: $found"; exit 1; fi
  done
  for hidden in "$@"; do
    if [ -d "$hidden" ]; then [ -z "$(ls -A "$hidden")" ] || { echo "FAIL: $hidden visible"; exit 1; }
    elif [ -s "$hidden" ]; then echo "FAIL: $hidden visible"; exit 1; fi
  done
  for port in 5432 4222 6379 8123; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "FAIL: $port answers"; exit 1; fi
  done
  if curl -s -m 3 -o /dev/null https://pypi.org/simple/; then echo "FAIL: network reachable"; exit 1; fi
  echo "PATH=$PATH: $(ls "$HOME" | wc -l) files in HOME; nothing listens; no network"
' check "${HIDE[@]+"${HIDE[@]}"}"

step "git clone of the checkout's HEAD ($(git -C "$ROOT" rev-parse --short HEAD))"
inside git clone --quiet "$ROOT" "$WORK/headwater"

if [ -z "${FRESH_MACHINE_SKIP_DEV:-}" ]; then
  step "README command 1: bash scripts/dev.sh"
  # Its own session, so Ctrl-C (SIGINT to the group) reaches it as a terminal's would.
  inside "$(command -v setsid)" --wait bash -c 'echo $$ >"$0" && cd "$1" && exec bash scripts/dev.sh' \
    "$WORK/dev.pid" "$WORK/headwater" >"$WORK/dev.log" 2>&1 &
  JOB=$!
  started=$SECONDS
  until inside curl -sf -m 3 -o /dev/null http://127.0.0.1:8123/health; do
    if [ $((SECONDS - started)) -gt 600 ] || ! kill -0 "$JOB" 2>/dev/null; then
      tail -40 "$WORK/dev.log" >&2
      fail "scripts/dev.sh did not answer /health"
    fi
    sleep 1
  done
  step "dev answered /health after $((SECONDS - started)) s (uv sync from the cache included)"
  inside curl -sf http://127.0.0.1:8123/health | tee "$WORK/health.json"; echo
  grep -q '"status":"ok"' "$WORK/health.json" || grep -q '"status": "ok"' "$WORK/health.json" \
    || fail "/health did not say ok"

  step "the README's curl line"
  curl_line="$(grep -o "curl -N -X POST http://127.0.0.1:8123/runs/stream[^\`]*" "$ROOT/README.md")"
  [ -n "$curl_line" ] || fail "no curl line in README.md"
  inside bash -c "$curl_line" >"$WORK/curl.out" 2>"$WORK/curl.err"
  # The streamed tokens, joined (this machine's python reads the output: not part of the proof).
  reply="$(python3 - "$WORK/curl.out" <<'PY'
import json, sys
events = open(sys.argv[1]).read().split("\n\n")
parts = [dict(line.split(": ", 1) for line in e.splitlines() if ": " in line) for e in events]
assert parts[0].get("event") == "metadata", parts[0]
assert not [p for p in parts if p.get("event") == "error"], parts
print("".join(json.loads(p["data"])[0]["content"] for p in parts if p.get("event") == "messages"))
PY
)" || fail "the curl stream is not a run's stream: $(head -c 600 "$WORK/curl.out")"
  echo "streamed: $reply"
  [ "$reply" = "Hello! I am the Headwater simulator." ] || fail "unexpected reply: $reply"

  step "the README's langgraph-sdk snippet (uv run python)"
  awk '/^```python$/{p=1; next} /^```$/{if (p) exit} p' "$ROOT/README.md" >"$WORK/snippet.py"
  grep -q get_client "$WORK/snippet.py" || fail "no langgraph-sdk snippet in README.md"
  inside bash -c "cd '$WORK/headwater' && uv run --frozen python '$WORK/snippet.py'" \
    >"$WORK/sdk.out" 2>&1 || { tail -20 "$WORK/sdk.out" >&2; fail "the README's snippet failed"; }
  grep -q "'content': '42'" "$WORK/sdk.out" || fail "the calculator tool did not answer 42"
  grep -q "The tool returned: 42." "$WORK/sdk.out" || fail "no final answer from the SDK run"
  echo "sdk: the calculator tool answered 42; the final message: The tool returned: 42."

  step "Ctrl-C on dev"
  kill -INT -- "-$(cat "$WORK/dev.pid")"
  wait "$JOB" && code=0 || code=$?
  [ "$code" = 0 ] || { tail -20 "$WORK/dev.log" >&2; fail "dev exited with $code on Ctrl-C"; }
  if grep -q Traceback "$WORK/dev.log"; then cat "$WORK/dev.log" >&2; fail "Traceback in dev's log"; fi
  grep -c " 200 " "$WORK/dev.log" | sed 's/^/request lines with 200: /' >&2
fi

step "README command 2: bash scripts/test.sh $*"
started=$SECONDS
set +e
inside bash -c 'cd "$0" && exec bash scripts/test.sh "$@"' "$WORK/headwater" "$@" \
  2>&1 | tee "$WORK/test.log"
code=${PIPESTATUS[0]}
set -e
step "scripts/test.sh exited with $code after $((SECONDS - started)) s"
exit "$code"

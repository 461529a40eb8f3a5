#!/usr/bin/env bash
# `npm ci`, tried up to three times: a registry hiccup (EIDLETIMEOUT, ECONNRESET: one fetch that
# npm's own retries gave up on) fails an attempt, not the test command or the demo. A lockfile
# or build error fails all three the same way and is reported as it is.
set -uo pipefail
cd "$(dirname "$0")/.."
for attempt in 1 2 3; do
  npm ci --no-audit --no-fund "$@" && exit 0
  [ "$attempt" -lt 3 ] || break
  echo "npm ci failed (attempt $attempt of 3); trying again in $((attempt * 15)) s" >&2
  sleep $((attempt * 15))
done
echo "npm ci failed three times" >&2
exit 1

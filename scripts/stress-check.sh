#!/usr/bin/env bash
# The stress check (first-contact issue): do the README's two commands pass every time on a busy
# machine? Loads the machine with two CPU hogs (Debian's stress-ng, installed here if missing),
# then runs `mag lab demo` N times in a row and the full test command (scripts/test-all.sh) M
# times in a row, and prints how many passed and how long each took. Not part of CI (too long).
#
#   sudo ./scripts/stress-check.sh                 # 30 demos, 3 full test runs
#   sudo ./scripts/stress-check.sh --demos 3 --full 0
#   npm run stress-check -- --demos 5 --full 1
#   STRESS_DEMOS=10 STRESS_FULL=1 STRESS_HOGS=2 ./scripts/stress-check.sh
#
# The hogs are stopped whatever happens (normal end, a failure, Ctrl-C). The output of every
# failed run is kept in the directory printed at the end. Exit status 0 only if every run passed.
set -euo pipefail
cd "$(dirname "$0")/.."

DEMOS=${STRESS_DEMOS:-30}
FULL=${STRESS_FULL:-3}
HOGS=${STRESS_HOGS:-2}
while [ $# -gt 0 ]; do
  case "$1" in
    --demos) DEMOS=$2; shift 2 ;;
    --full) FULL=$2; shift 2 ;;
    --hogs) HOGS=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "stress-check: unknown argument $1 (--demos N, --full M, --hogs K)" >&2; exit 2 ;;
  esac
done
for v in "$DEMOS" "$FULL" "$HOGS"; do
  [[ "$v" =~ ^[0-9]+$ ]] || { echo "stress-check: counts must be whole numbers" >&2; exit 2; }
done
if [ "$(id -u)" -ne 0 ]; then echo "stress-check: needs root (the lab makes network namespaces; apt-get for stress-ng)" >&2; exit 1; fi

log() { printf '== %s\n' "$*"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

if ! command -v stress-ng >/dev/null 2>&1; then
  log "installing stress-ng (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends stress-ng >/dev/null \
    || { apt-get update -qq -o DPkg::Lock::Timeout=600 && apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends stress-ng >/dev/null; }
fi

OUT=$(mktemp -d /tmp/stress-check-XXXXXX)
LAB="st$(( $$ % 10000000 ))"   # the demo's lab name (at most 12 characters)
HOG_PID=""
stop_hogs() {
  if [ -n "$HOG_PID" ]; then
    # stress-ng runs in its own process group (setsid): end the group, the workers with it.
    kill -TERM -- "-$HOG_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$HOG_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$HOG_PID" 2>/dev/null || true
    HOG_PID=""
  fi
}
cleanup() {
  stop_hogs
  # A demo interrupted half-way leaves its lab: remove it (only ours, by its name).
  if ip netns list 2>/dev/null | grep -q "^$LAB-"; then node packages/cli/bin/mag.js lab down --name "$LAB" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "build (the demo runs from the built tree)"
if [ ! -d node_modules ]; then ./scripts/npm-ci.sh >"$OUT/npm-ci.log" 2>&1; fi
npm run build >"$OUT/build.log" 2>&1 || { echo "build failed: $OUT/build.log" >&2; exit 1; }

# A hard time limit on the hogs too, should this shell be killed without running its traps.
setsid stress-ng --cpu "$HOGS" --timeout 6h --quiet >"$OUT/stress-ng.log" 2>&1 &
HOG_PID=$!
# Running when its workers are: the parent and one process per hog in its group (bounded wait).
for _ in $(seq 1 100); do
  [ "$(pgrep -g "$HOG_PID" | wc -l)" -gt "$HOGS" ] && break
  kill -0 "$HOG_PID" 2>/dev/null || break
  sleep 0.1
done
[ "$(pgrep -g "$HOG_PID" | wc -l)" -gt "$HOGS" ] || { echo "stress-ng did not start its $HOGS hogs: $OUT/stress-ng.log" >&2; exit 1; }
log "$HOGS CPU hogs running (stress-ng, pid $HOG_PID) on $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"

demo_ok=0
demo_times=()
for i in $(seq 1 "$DEMOS"); do
  t0=$(now)
  if node packages/cli/bin/mag.js lab demo --name "$LAB" >"$OUT/demo-$i.log" 2>&1; then
    demo_ok=$((demo_ok + 1)); verdict=ok; rm -f "$OUT/demo-$i.log"
  else
    verdict="FAILED (output: $OUT/demo-$i.log)"
    node packages/cli/bin/mag.js lab down --name "$LAB" >/dev/null 2>&1 || true
  fi
  t=$(secs "$t0" "$(now)"); demo_times+=("$t")
  printf 'demo %3d/%d  %6ss  %s\n' "$i" "$DEMOS" "$t" "$verdict"
done

full_ok=0
full_times=()
for i in $(seq 1 "$FULL"); do
  t0=$(now)
  if CI=true ./scripts/test-all.sh >"$OUT/full-$i.log" 2>&1; then full_ok=$((full_ok + 1)); verdict=ok; else verdict="FAILED"; fi
  t=$(secs "$t0" "$(now)"); full_times+=("$t")
  printf 'full %3d/%d  %6ss  %s  %s (output: %s)\n' "$i" "$FULL" "$t" "$verdict" "$(grep -E '^tests: ' "$OUT/full-$i.log" | tail -1 || true)" "$OUT/full-$i.log"
done
stop_hogs

stats() { # min / median / max of the arguments
  if [ $# -eq 0 ]; then echo "-"; return; fi
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "min %ss, median %ss, max %ss", v[1], v[int((NR + 1) / 2)], v[NR] }'
}
echo
log "stress check with $HOGS CPU hogs on $(nproc) cores"
echo "mag lab demo:        $demo_ok/$DEMOS passed   ($(stats "${demo_times[@]+"${demo_times[@]}"}"))"
echo "full test command:   $full_ok/$FULL passed   ($(stats "${full_times[@]+"${full_times[@]}"}"))"
echo "kept output of failed runs and full runs in $OUT"
[ "$demo_ok" -eq "$DEMOS" ] && [ "$full_ok" -eq "$FULL" ]

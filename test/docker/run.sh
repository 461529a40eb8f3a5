#!/usr/bin/env bash
# The docker lab end to end on a real Docker engine (the test command's docker phase):
# engine (the one that runs, or a dockerd of our own: test/docker/engine.sh), base image
# (pulled, or made locally and cached: test/docker/base-image.sh), the project image, then
# docker/compose.yaml with each compose given, checking what a user does and sees: the
# containers' setup and health, attach and registration, SLAAC in the MN, a ping to the CN
# through the tunnel, a handoff each way (docker/handoff.sh, with each Docker CLI found) that
# keeps the MN's MAC and address, detach, a fast down, and the entrypoint failing loudly.
# Everything it made goes away at the end, also on failure: containers, networks, the images
# it built, the dockerd it started and what that left on the host; the base image stays cached.
# Environment: COMPOSE (one compose command; default: docker-compose and `docker compose`,
# each that exists), DOCKER_CLI (default docker), ENGINE_BIN (a directory with another dockerd,
# see engines.sh), ENGINE_NAME, PMIP6_DOCKER_CACHE. Needs root.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=test/docker
# shellcheck source=test/docker/engine.sh
. $here/engine.sh

t0=$(date +%s)
phase() { printf '== docker lab [%4ss] %s\n' $(($(date +%s) - t0)) "$*"; }
fail() { printf 'docker lab: FAIL: %s\n' "$*" >&2; exit 1; }
DOCKER=${DOCKER_CLI:-docker}
docker() { command "$DOCKER" "$@"; }
export DOCKER_BUILDKIT=0 # the classic builder: the same on every engine, no buildx needed
run=pmip6ci$$
# PMIP6_DOCKER_IMAGE (by hand, while working on the lab): build under that name and keep it, so
# the next run's build is all cache hits.
IMAGE=${PMIP6_DOCKER_IMAGE:-pmip6-mag:$run}
BASE=pmip6-base:bookworm-node
MN_MAC=02:00:00:00:01:01
MN_ID=mn1@example.com
project=

cleanup() {
  status=$?
  set +e
  if [ -n "$project" ] && [ -n "${COMPOSE_CMD:-}" ]; then
    [ $status -eq 0 ] || { echo "--- container logs"; compose logs --no-color --tail 40; } >&2
    compose down -v -t 5 >/dev/null 2>&1
  fi
  if [ -z "${PMIP6_DOCKER_IMAGE:-}" ] && docker info >/dev/null 2>&1; then
    docker image rm "$IMAGE" "$IMAGE-build" >/dev/null 2>&1
  fi
  engine_down
  phase "done (exit $status)"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

compose() { $COMPOSE_CMD -p "$project" -f docker/compose.yaml "$@"; }
cid() { compose ps -q "$1"; }
dx() { local s=$1; shift; docker exec "$(cid "$s")" "$@"; }
# Polls "$@" until it succeeds, for at most $1 seconds.
until_ok() {
  local limit=$1 what=$2
  shift 2
  local end=$(($(date +%s) + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -le "$end" ] || { "$@" || true; fail "$what: not within $limit s"; }
    sleep 0.5
  done
}
json() { node -e "const v = JSON.parse(require('fs').readFileSync(0, 'utf8')); const r = ($1); if (r === false) process.exit(1); if (r !== true && r !== undefined) console.log(typeof r === 'string' ? r : JSON.stringify(r))"; }

phase "engine"
engine_up "${ENGINE_BIN:-}"
server=$(docker version -f '{{.Server.Version}}')
client=$(docker version -f '{{.Client.Version}}')

# A run killed before its cleanup (SIGKILL, a reset machine) leaves its compose project behind,
# and its networks then overlap this run's fixed subnets ("Pool overlaps with other one on this
# address space"). Remove the projects of our runs (pmip6ci<pid>x<n>) whose run.sh is gone.
stale_projects() {
  {
    docker ps -a --filter label=com.docker.compose.project --format '{{.Label "com.docker.compose.project"}}'
    docker network ls --filter label=com.docker.compose.project --format '{{.Label "com.docker.compose.project"}}'
  } 2>/dev/null | grep -E '^pmip6ci[0-9]+x[0-9]+$' | sort -u | while read -r p; do
    pid=${p#pmip6ci}
    grep -qs 'run\.sh' "/proc/${pid%%x*}/cmdline" || echo "$p"
  done
}
for p in $(stale_projects); do
  docker ps -aq --filter "label=com.docker.compose.project=$p" | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker network ls -q --filter "label=com.docker.compose.project=$p" | xargs -r docker network rm >/dev/null 2>&1 || true
  phase "removed what an interrupted run left behind: compose project $p"
done

phase "base image"
if docker image inspect node:20-bookworm-slim >/dev/null 2>&1 && docker image inspect node:20-bookworm >/dev/null 2>&1; then
  build_args=()
elif timeout 60 docker pull -q node:20-bookworm-slim >/dev/null 2>&1 && timeout 120 docker pull -q node:20-bookworm >/dev/null 2>&1; then
  build_args=()
else
  DOCKER=$DOCKER $here/base-image.sh "$BASE"
  build_args=(--build-arg "BUILD_BASE=$BASE" --build-arg "BASE=$BASE")
fi

phase "project image"
# --network host: the build stage reaches the npm registry the way this machine does.
blog=$(mktemp)
for target in build ''; do
  docker build --network host "${build_args[@]}" ${target:+--target "$target"} -t "$IMAGE${target:+-$target}" \
    -f docker/Dockerfile . >"$blog" 2>&1 || { tail -n 40 "$blog" >&2; rm -f "$blog"; fail "docker build"; }
done
ctx=$(grep -o 'Sending build context.*' "$blog" || echo 'build context size not reported')
rm -f "$blog"
export MAG_IMAGE=$IMAGE
phase "image built (engine $server, client $client; $ctx)"

# Every Docker CLI found does one handoff (the other way round with a second one).
clis=("$(type -P "$DOCKER")")
for c in /usr/bin/docker /usr/local/bin/docker; do
  if [ -x "$c" ] && [ "$(readlink -f "$c")" != "$(readlink -f "${clis[0]}")" ] && "$c" version >/dev/null 2>&1; then clis+=("$c"); fi
done

composes=()
if [ -n "${COMPOSE:-}" ]; then composes=("$COMPOSE"); else
  command -v docker-compose >/dev/null && composes+=(docker-compose)
  docker compose version >/dev/null 2>&1 && composes+=("$DOCKER compose")
fi
[ ${#composes[@]} -gt 0 ] || fail "no compose (docker-compose or docker compose)"

mn_addr() {
  dx mn1 ip -j -6 addr show scope global | json "v.flatMap((l) => l.addr_info.filter((a) => (a.local ?? '').startsWith('2001:db8:100:') && !a.tentative).map((a) => l.ifname + ' ' + a.local))[0] ?? false"
}
mn_links() { dx mn1 ip -j link show | json "v.filter((l) => l.ifname !== 'lo').map((l) => l.ifname + ' ' + l.address).join(',')"; }
binding_at() { dx "$1" mag bindings --json | json "v.some((b) => b.mnId === '$MN_ID' && b.state === 'registered')"; }
no_binding_at() { dx "$1" mag bindings --json | json "!v.some((b) => b.mnId === '$MN_ID')"; }
lma_req() {
  dx lma node -e '
    const c = require("net").connect("/run/mag/lma.sock"); let b = ""
    c.on("connect", () => c.write(process.argv[1] + "\n"))
    c.on("data", (d) => { b += d; if (b.includes("\n")) { console.log(b.split("\n")[0]); c.end() } })' "$1"
}
lma_binding_by() { lma_req '{"cmd":"bindings"}' | json "v.bindings" | json "v.some((b) => b.mnId === '$MN_ID' && b.mag === '$1' && b.state === 'active')"; }
lma_no_binding() { lma_req '{"cmd":"bindings"}' | json "v.bindings" | json "!v.some((b) => b.mnId === '$MN_ID' && b.state === 'active')"; }
healthy() { [ "$(docker inspect -f '{{.State.Health.Status}}' "$(cid "$1")")" = healthy ]; }

access_link_ok() {
  dx "$1" ip -j addr show dev mn1 | json "(() => { const a6 = v[0].addr_info.filter((a) => a.family === 'inet6').map((a) => a.local); return v[0].address === '02:00:00:00:00:fe' && JSON.stringify(a6) === '[\"fe80::1\"]' || (console.error('$1 mn1: ' + v[0].address + ' ' + a6), false) })()"
}

handoff() {
  local from=$1 to=$2 cli=$3 want=$4
  phase "handoff $from -> $to (CLI $("$cli" version -f '{{.Client.Version}}'), $COMPOSE_CMD)"
  DOCKER=$cli COMPOSE=$COMPOSE_CMD PROJECT=$project docker/handoff.sh "$from" "$to"
  until_ok 30 "registration at $to after handoff" binding_at "$to"
  until_ok 30 "LMA binding moved to $to" lma_binding_by "$([ "$to" = mag1 ] && echo 2001:db8:ffff::1 || echo 2001:db8:ffff::3)"
  until_ok 60 "SLAAC address after handoff" mn_addr
  links=$(mn_links)
  [ "$links" = "${links%%,*}" ] || fail "the MN has more than one access link after handoff: $links"
  [ "${links#* }" = "$MN_MAC" ] || fail "the MN's MAC after handoff is ${links#* }, not $MN_MAC"
  got=$(mn_addr)
  [ "${got#* }" = "$want" ] || fail "the MN's address changed at handoff: $want -> ${got#* }"
  until_ok 20 "RA default route via fe80::1 after handoff" sh -c "docker exec $(cid mn1) ip -6 route show default | grep -q 'via fe80::1'"
  dx mn1 ping -6 -c 3 -i 0.3 -w 20 2001:db8:cccc::2 >/dev/null || fail "no ping to the CN after handoff to $to"
}

scenario() {
  COMPOSE_CMD=$1
  project=${run}x${#COMPOSE_CMD}
  phase "compose: $COMPOSE_CMD ($($COMPOSE_CMD version --short 2>/dev/null || $COMPOSE_CMD version | head -n1))"
  compose config -q
  compose up -d --no-build
  for s in lma mag1 mag2 mn1 cn; do until_ok 120 "$s healthy" healthy "$s"; done
  phase "up and healthy"

  # The entrypoint's work: access links with only the fixed MAC and fe80::1 (RFC 5213 §6.8),
  # the MN with its own MAC, the healthcheck reporting the MAG daemon's own status.
  access_link_ok mag1 || fail "mag1's access link"
  access_link_ok mag2 || fail "mag2's access link"
  [ "$(mn_links | cut -d' ' -f2)" = "$MN_MAC" ] || fail "the MN's MAC is $(mn_links)"
  dx mag1 mag-entrypoint health | grep -q 'ready: links mn1' || fail "mag1's health does not come from the daemon"
  if dx mag1 env MAG_ACCESS='mn1 mn9' mag-entrypoint health >/dev/null 2>&1; then fail "health passes for a link the MAG does not serve"; fi

  phase "attach"
  dx mag1 mag attach --mn "$MN_ID" --link mn1 --mac "$MN_MAC" >/dev/null
  until_ok 30 "registration at mag1" binding_at mag1
  until_ok 30 "LMA binding by mag1" lma_binding_by 2001:db8:ffff::1
  until_ok 60 "SLAAC address in the MN" mn_addr
  addr=$(mn_addr)
  addr=${addr#* }
  until_ok 20 "RA default route via fe80::1" sh -c "docker exec $(cid mn1) ip -6 route show default | grep -q 'via fe80::1'"
  phase "MN address $addr; ping the CN"
  dx mn1 ping -6 -c 3 -i 0.3 -w 20 2001:db8:cccc::2 >/dev/null || fail "no ping from the MN to the CN"

  handoff mag1 mag2 "${clis[${#clis[@]}-1]}" "$addr"
  handoff mag2 mag1 "${clis[0]}" "$addr"

  phase "detach"
  dx mag1 mag detach --mn "$MN_ID" >/dev/null
  until_ok 30 "binding gone at mag1" no_binding_at mag1
  until_ok 30 "binding gone at the LMA" lma_no_binding

  phase "the entrypoint fails loudly"
  out=$(docker run --rm --network "${project}_access1" --cap-add NET_ADMIN -e MAG_ACCESS=eth0 "$IMAGE" true 2>&1) &&
    fail "a MAG container without IPv6 forwarding started: $out"
  case $out in *"read-only"*"compose sysctls"*) ;; *) fail "unclear entrypoint failure: $out" ;; esac

  phase "down"
  local s0
  s0=$(date +%s)
  compose stop -t 10 >/dev/null 2>&1
  stop_s=$(($(date +%s) - s0))
  for s in lma mag1 mag2 mn1 cn; do
    # ps -a: compose v2 lists stopped containers only then.
    code=$(docker inspect -f '{{.State.ExitCode}}' "$(compose ps -a -q "$s")")
    [ "$code" != 137 ] || fail "$s ignored SIGTERM (killed after the stop timeout)"
  done
  compose down -v >/dev/null 2>&1
  phase "stopped in $stop_s s, every container on SIGTERM; down"
  project=
}

for c in "${composes[@]}"; do scenario "$c"; done
phase "PASS: engine $server, CLIs ${clis[*]}, compose: ${composes[*]}"

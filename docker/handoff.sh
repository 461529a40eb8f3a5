#!/bin/sh
# Handoff in the docker lab: moves mn1 from one MAG's access network to the other's, keeping
# its MAC (so its SLAAC address), then detaches it at the old MAG and attaches it at the new
# one (RFC 5213 §5.3.2: same MN, new MAG, same home network prefix).
#   docker/handoff.sh mag1 mag2
# Works with any Docker CLI (20.10 to 28: only `network connect/disconnect` and `exec`) and
# either compose: COMPOSE="docker compose" or "docker-compose" (default: whichever exists),
# PROJECT (default mag-lab, as in `-p mag-lab`), DOCKER (the docker CLI, default docker).
# The MN joins the new network before it leaves the old one: if a step fails, it keeps the
# link it had (and the new one is taken away again), never none.
set -eu
from=${1:?usage: handoff.sh FROM_MAG TO_MAG (mag1 mag2)} to=${2:?usage: handoff.sh FROM_MAG TO_MAG}
here=$(cd "$(dirname "$0")" && pwd)
DOCKER=${DOCKER:-docker}
PROJECT=${PROJECT:-mag-lab}
if [ -z "${COMPOSE:-}" ]; then
  if $DOCKER compose version >/dev/null 2>&1; then COMPOSE="$DOCKER compose"; else COMPOSE=docker-compose; fi
fi
mnid=${MN_ID:-mn1@example.com} mac=${MN_MAC:-02:00:00:00:01:01}
compose() { $COMPOSE -p "$PROJECT" -f "$here/compose.yaml" "$@"; }
id() {
  c=$(compose ps -q "$1")
  [ -n "$c" ] || { echo "handoff: service $1 is not running in project $PROJECT" >&2; exit 1; }
  echo "$c"
}
net() { echo "${PROJECT}_access${1#mag}"; }

mn=$(id mn1) old=$(id "$from") new=$(id "$to")
if ! $DOCKER network connect "$(net "$to")" "$mn" || ! $DOCKER exec "$mn" mag-entrypoint mn-link "$mac"; then
  echo "handoff: the new link could not be set up; mn1 stays on $(net "$from")" >&2
  # A failed connect can leave the interface in place: take it away again.
  $DOCKER network disconnect "$(net "$to")" "$mn" || echo "handoff: (mn1 was not on $(net "$to"))" >&2
  exit 1
fi
$DOCKER network disconnect "$(net "$from")" "$mn"
# Docker may move the container's gateway to the new network on disconnect: drop that route.
$DOCKER exec "$mn" mag-entrypoint mn-link "$mac"
$DOCKER exec "$old" mag detach --mn "$mnid"
$DOCKER exec "$new" mag attach --mn "$mnid" --link mn1 --mac "$mac" --hint same-interface

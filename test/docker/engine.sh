# Docker engine for the docker-lab tests (sourced by run.sh and engines.sh).
#   engine_up [BIN_DIR]   use the engine that runs, or start one of our own: BIN_DIR's dockerd
#                         (with its containerd, runc, docker-init) or the system's, installing
#                         Debian's docker.io when there is none
#   engine_down           stop the engine we started and remove what it left on the host:
#                         bridges, nft tables, changed sysctls; the data root (with the cached
#                         base image) is kept under /var/lib/pmip6-docker[-NAME]
# Our dockerd has its own socket, pidfile, exec root and data root, and no default bridge
# (--bridge=none: no docker0, no 172.17.0.0/16), so it shares nothing with a system engine.
ENGINE_NAME=${ENGINE_NAME:-pmip6-docker}
ENGINE_SOCK=/run/$ENGINE_NAME.sock
ENGINE_PID=/run/$ENGINE_NAME.pid
ENGINE_EXEC=/run/$ENGINE_NAME
ENGINE_ROOT=/var/lib/$ENGINE_NAME
ENGINE_LOG=/var/log/$ENGINE_NAME.log
ENGINE_STARTED=0
ENGINE_SNAP=

_engine_sysctls() {
  sysctl -a 2>/dev/null | grep -E '^net\.(ipv4\.ip_forward|ipv4\.conf\.(all|default)\.|ipv6\.conf\.(all|default)\.|bridge\.)' | sort || true
}
_engine_tables() { nft list tables 2>/dev/null | sort || true; }
_engine_bridges() { ip -o link show type bridge | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort; }

engine_up() {
  bin=${1:-}
  if [ -z "$bin" ] && docker info >/dev/null 2>&1; then
    echo "engine: using the Docker engine that runs ($(docker version -f '{{.Server.Version}}'))"
    return 0
  fi
  if [ -n "$bin" ]; then
    PATH=$bin:$PATH
    export PATH
  elif ! command -v dockerd >/dev/null 2>&1; then
    echo "engine: installing Debian's docker.io"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends docker.io >/dev/null
  fi
  for t in dockerd nft; do command -v "$t" >/dev/null || { echo "engine: $t is missing" >&2; return 1; }; done
  if [ -e "$ENGINE_PID" ] && kill -0 "$(cat "$ENGINE_PID")" 2>/dev/null; then
    echo "engine: $ENGINE_PID names a running dockerd: another run is using $ENGINE_NAME" >&2
    return 1
  fi
  ENGINE_SNAP=$(mktemp -d)
  _engine_sysctls >"$ENGINE_SNAP/sysctl"
  _engine_tables >"$ENGINE_SNAP/tables"
  _engine_bridges >"$ENGINE_SNAP/bridges"
  mkdir -p "$ENGINE_ROOT" "$ENGINE_EXEC"
  dockerd --data-root "$ENGINE_ROOT" --exec-root "$ENGINE_EXEC" --pidfile "$ENGINE_PID" \
    -H "unix://$ENGINE_SOCK" --bridge=none --log-level=warn >"$ENGINE_LOG" 2>&1 &
  ENGINE_STARTED=1
  export DOCKER_HOST=unix://$ENGINE_SOCK
  deadline=$(($(date +%s) + 120))
  until docker version >/dev/null 2>&1; do
    if ! kill -0 $! 2>/dev/null || [ "$(date +%s)" -gt "$deadline" ]; then
      echo "engine: dockerd did not come up; its log:" >&2
      tail -n 30 "$ENGINE_LOG" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "engine: started dockerd $(docker version -f '{{.Server.Version}}') ($(command -v dockerd)) on $ENGINE_SOCK"
}

engine_down() {
  [ "$ENGINE_STARTED" = 1 ] || return 0
  ENGINE_STARTED=0
  if [ -e "$ENGINE_PID" ]; then
    pid=$(cat "$ENGINE_PID")
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$(($(date +%s) + 60))
    while kill -0 "$pid" 2>/dev/null; do
      if [ "$(date +%s)" -gt "$deadline" ]; then
        echo "engine: dockerd $pid ignored SIGTERM for 60 s: SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.5
    done
  fi
  unset DOCKER_HOST
  # What dockerd leaves behind on the host: its bridges (if a network outlived the run), its
  # nft tables (made through iptables-nft), the forwarding and bridge sysctls it switched on.
  for b in $(_engine_bridges | comm -13 "$ENGINE_SNAP/bridges" -); do
    case $b in br-*) ip link del "$b" && echo "engine: removed bridge $b" ;; esac
  done
  _engine_tables | comm -13 "$ENGINE_SNAP/tables" - | while read -r _ family name; do
    nft delete table "$family" "$name"
  done
  if nft list ruleset 2>/dev/null | grep -q 'chain DOCKER'; then
    echo "engine: Docker's chains are left in nft tables that existed before the run" >&2
  fi
  _engine_sysctls | comm -13 "$ENGINE_SNAP/sysctl" - | while IFS= read -r now; do
    key=${now%% = *}
    old=$(awk -F' = ' -v k="$key" '$1 == k { print $2; exit }' "$ENGINE_SNAP/sysctl")
    if [ -n "$old" ]; then sysctl -qw "$key=$old"; fi
  done
  # dockerd leaves its default netns bind-mounted in its exec root.
  for m in $(awk -v r="$ENGINE_EXEC/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r); do umount "$m"; done
  rm -rf "$ENGINE_EXEC" "$ENGINE_SNAP"
  echo "engine: dockerd stopped, host bridges, nft tables and sysctls as before"
}

#!/usr/bin/env bash
# By hand (not in CI): the docker-lab test on newer Docker engines than Debian 12's 20.10,
# unpacked from Debian's own packages (no install: nothing on the host changes but what
# test/docker/run.sh sets up and takes down again):
#   trixie  Debian 13: docker.io 26.1, containerd 1.7, runc 1.1, compose v2 2.26
#   sid     Debian unstable: docker.io 28.5, containerd 2.1, runc 1.3, compose v2 2.40
# Usage: test/docker/engines.sh [trixie|sid]...   (root; default: trixie sid)
# ENGINES_COMPOSE=v2 (or v1) runs the lab with that compose only.
# The .debs come from the Debian mirror apt is configured with, through a private apt state
# under $PMIP6_DOCKER_CACHE/engines (the host's apt lists and sources are not touched), and
# are unpacked there; test/docker/run.sh then runs with that engine, the Docker CLI of the same
# release and its compose v2 plugin, and also with Debian 12's compose v1 when it is installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${PMIP6_DOCKER_CACHE:-/var/cache/pmip6-docker}/engines
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(trixie sid)

mirror=$(awk 'BEGIN { RS = "" } /Suites:[^\n]*bookworm( |$|\n)/ && !/security/ { for (i = 1; i <= NF; i++) if ($i == "URIs:") { print $(i + 1); exit } }' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
[ -n "$mirror" ] || mirror=$(sed 's/\[[^]]*\]//' /etc/apt/sources.list 2>/dev/null | awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }')
[ -n "$mirror" ] || { echo "engines: no Debian mirror in /etc/apt/sources.list*" >&2; exit 1; }

fetch() {
  local suite=$1 dir=$cache/$1
  if [ -x "$dir/root/usr/sbin/dockerd" ]; then return 0; fi
  mkdir -p "$dir/apt/lists/partial" "$dir/apt/archives/partial" "$dir/apt/sources" "$dir/debs"
  printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$mirror" "$suite" >"$dir/apt/sources/$suite.sources"
  local o=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$dir/apt/sources"
    -o "Dir::State::Lists=$dir/apt/lists" -o "Dir::Cache=$dir/apt" -o "Dir::Cache::Archives=$dir/apt/archives")
  apt-get "${o[@]}" update -qq
  (cd "$dir/debs" && apt-get "${o[@]}" download docker.io docker-cli containerd runc docker-compose tini)
  rm -rf "$dir/root.part" && mkdir "$dir/root.part"
  for d in "$dir"/debs/*.deb; do dpkg-deb -x "$d" "$dir/root.part"; done
  mv "$dir/root.part" "$dir/root"
}

status=0
for suite in "${suites[@]}"; do
  fetch "$suite"
  root=$cache/$suite/root
  bin=$(mktemp -d)
  # One directory for the engine's PATH: dockerd and the binaries it runs (containerd and its
  # shim, runc, docker-init), and the CLI with its compose plugin.
  # runc is Debian 12's (1.1.5): the newer releases' runc needs glibc 2.38, dockerd,
  # containerd and the CLIs are static enough to run here as they are. Their compose v2 is
  # the CLI plugin (`docker compose`); `docker-compose` stays Debian 12's v1.
  for b in "$root"/usr/sbin/* "$root"/usr/bin/*; do
    case ${b##*/} in runc | docker-compose) ;; *) ln -sf "$b" "$bin/" ;; esac
  done
  command -v runc >/dev/null || { echo "engines: runc is missing (apt-get install runc)" >&2; exit 1; }
  if [ ! -e "$bin/docker-init" ] && [ -e "$root/usr/bin/tini-static" ]; then ln -s "$root/usr/bin/tini-static" "$bin/docker-init"; fi
  mkdir -p "$bin/cli-plugins"
  ln -s "$root/usr/libexec/docker/cli-plugins/docker-compose" "$bin/cli-plugins/docker-compose"
  mkdir -p "$bin/config" && printf '{ "cliPluginsExtraDirs": ["%s"] }\n' "$bin/cli-plugins" >"$bin/config/config.json"
  echo "== $suite: $("$root/usr/sbin/dockerd" --version)"
  # run.sh takes this release's compose v2 (the CLI plugin) and Debian 12's compose v1 if installed.
  # ENGINES_COMPOSE=v2 or v1: only that one.
  compose=()
  case ${ENGINES_COMPOSE:-} in
    v2) compose=("COMPOSE=$bin/docker compose") ;;
    v1) compose=(COMPOSE=docker-compose) ;;
  esac
  if ! env DOCKER_CONFIG="$bin/config" ENGINE_BIN="$bin" ENGINE_NAME="pmip6-docker-$suite" DOCKER_CLI="$bin/docker" \
    "${compose[@]}" "$here/run.sh"; then
    echo "== $suite: FAILED" >&2
    status=1
  fi
  rm -rf "$bin"
done
exit $status

#!/usr/bin/env bash
# The project's test command (README, .ci/run): installs what the tests need on a Debian
# machine, builds, lints and runs every test. Run it as root from anywhere in the repo.
# With CI=true, a missing tool is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

# Debian packages the tests use: tshark is the independent decoder for our packets,
# iproute2 builds the network namespaces, the build toolchain compiles the raw-socket addon;
# kea-dhcp6-server and isc-dhcp-client are the real DHCPv6 server and client behind and in
# front of the MAG's relay (test/e2e/dhcp6-relay.test.ts); strongSwan loads what
# `mag ipsec-config` writes (test/interop/strongswan.test.ts).
# hostapd and wpasupplicant are the real 802.1X authenticator and station for the hostapd driver's
# end-to-end test; debianutils has run-parts, which runs the pppd hooks as Debian's ipv6-up does.
DEB_PACKAGES=(tshark iproute2 iputils-ping procps g++ make python3 kea-dhcp6-server isc-dhcp-client strongswan-swanctl strongswan-charon hostapd wpasupplicant debianutils)
missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs npm); fi
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then echo "need root to apt-get install ${missing[*]}" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then echo "Node.js >= 20 is needed (found $(node --version))" >&2; exit 1; fi

log "npm ci"
npm ci --no-audit --no-fund
log "build"
npm run build
log "lint and type-check"
npm run lint
log "tests"
out=$(mktemp)
status=0
npx jest --ci --json --outputFile="$out" "$@" || status=$?
counts=$(node -p '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  [r.numPassedTests, r.numFailedTests, r.numPendingTests + r.numTodoTests].join(" ")
' "$out" || echo "0 0 0")
rm -f "$out"
read -r passed failed skipped <<<"$counts"

# Docker phase: the docker lab end to end on a real engine (test/docker/run.sh). Debian 12's
# docker.io (engine 20.10) and compose v1 are installed when missing, debootstrap makes the
# base image where no registry serves node:20 (cached under /var/cache/pmip6-docker), nftables
# lets the run remove the nft tables its dockerd made. PMIP6_DOCKER=0 skips it (not in CI).
DOCKER_PACKAGES=(docker.io docker-compose debootstrap nftables)
docker_status=0
if [ "${PMIP6_DOCKER:-1}" = 0 ] && [ "${CI:-}" != true ]; then
  log "docker lab: skipped (PMIP6_DOCKER=0)"
else
  missing=()
  for p in "${DOCKER_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null
  fi
  log "docker lab (test/docker/run.sh)"
  docker_start=$(date +%s)
  ./test/docker/run.sh || docker_status=$?
  echo "docker lab: $([ $docker_status -eq 0 ] && echo passed || echo FAILED) in $(($(date +%s) - docker_start)) s"
fi
[ $status -ne 0 ] || status=$docker_status
# The closing line counts the docker lab as one more test.
if [ "${PMIP6_DOCKER:-1}" != 0 ] || [ "${CI:-}" = true ]; then
  if [ $docker_status -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
fi
echo "tests: $passed passed, $failed failed$([ "$skipped" -gt 0 ] && echo ", $skipped skipped")"
exit $status

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
# prometheus scrapes the lab MAGs and socat forwards to it (`mag lab up --metrics`, lab-metrics e2e).
DEB_PACKAGES=(tshark iproute2 iputils-ping procps g++ make python3 kea-dhcp6-server isc-dhcp-client strongswan-swanctl strongswan-charon hostapd wpasupplicant debianutils prometheus socat)
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
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))
  const skipped = r.numPendingTests + r.numTodoTests
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""))
' "$out" || true
rm -f "$out"
exit $status

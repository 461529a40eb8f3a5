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
# user-mode-linux (+ kmod for insmod/modprobe) is the real-kernel tier's kernel (test/kernel/:
# ip6tnl, PPP and ESP, which this machine kind's kernel lacks); ppp is the real pppd it runs;
# libstrongswan-standard-plugins has the gcm and openssl plugins that `mag ipsec-config`'s default
# proposals (aes256gcm16, ecp384) need to be negotiated at all.
DEB_PACKAGES=(tshark iproute2 iputils-ping procps g++ make python3 kea-dhcp6-server isc-dhcp-client strongswan-swanctl strongswan-charon hostapd wpasupplicant debianutils user-mode-linux kmod ppp libstrongswan-standard-plugins)
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
kout=$(mktemp)
status=0
npx jest --ci --json --outputFile="$out" "$@" || status=$?
# The real-kernel tier (one User-Mode Linux boot, a few minutes): after the host's tests, also
# when they failed, so one run reports both. Test-path arguments narrow the host run only.
log "real-kernel tier (User-Mode Linux)"
kstatus=0
node test/kernel/run.js --json "$kout" || kstatus=$?
node -e '
  const fs = require("fs")
  const read = (f) => { try { return JSON.parse(fs.readFileSync(f, "utf8")) } catch { return null } }
  const r = read(process.argv[1])
  const k = read(process.argv[2])
  const kstatus = Number(process.argv[3])
  const count = (x, key) => (x ? x[key] : 0)
  const passed = count(r, "numPassedTests") + count(k, "numPassedTests")
  // A tier that failed without a result (no UML with CI=true, the watchdog) counts as one failure.
  const failed = count(r, "numFailedTests") + count(k, "numFailedTests") + (k === null && kstatus !== 0 ? 1 : 0)
  const skipped = count(r, "numPendingTests") + count(r, "numTodoTests") + count(k, "numPendingTests") + count(k, "numTodoTests")
  console.log(`tests: ${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : "") + ` (kernel tier: ${count(k, "numPassedTests")} passed, ${count(k, "numFailedTests")} failed)`)
' "$out" "$kout" "$kstatus" || true
rm -f "$out" "$kout"
if [ "$status" -eq 0 ]; then status=$kstatus; fi
exit $status

#!/usr/bin/env bash
# The project's test command (README, .ci/run): installs what the tests need on a Debian
# machine, builds, lints and runs every test. Run it as root from anywhere in the repo.
# With CI=true, a missing tool is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }
# Wall time of each phase, printed at the end (CI time is measured, not guessed).
PHASES=()
phase_start=$(date +%s)
phase() { # phase NAME: closes the running phase, starts NAME
  local t; t=$(date +%s)
  if [ -n "${phase_name:-}" ]; then PHASES+=("$(printf '%-22s %5ss' "$phase_name" $((t - phase_start)))"); fi
  phase_name=$1; phase_start=$t
  if [ -n "$1" ]; then log "$1"; fi
}

# Debian packages the tests use: tshark is the independent decoder for our packets,
# iproute2 builds the network namespaces, the build toolchain compiles the raw-socket addon;
# kea-dhcp6-server and isc-dhcp-client are the real DHCPv6 server and client behind and in
# front of the MAG's relay (test/e2e/dhcp6-relay.test.ts); strongSwan loads what
# `mag ipsec-config` writes (test/interop/strongswan.test.ts).
# hostapd and wpasupplicant are the real 802.1X authenticator and station for the hostapd driver's
# end-to-end test; debianutils has run-parts, which runs the pppd hooks as Debian's ipv6-up does.
# user-mode-linux (+ kmod for insmod/modprobe) is the real-kernel tier's kernel (test/kernel/:
# ip6tnl, PPP and ESP, which this machine kind's kernel lacks); ppp is the real pppd it runs;
# pppoe is rp-pppoe's pppoe-server, the MAG's end of its PPPoE test (pppd's own rp-pppoe plugin
# is the MN's end); openssl makes the certificates of its IPsec pubkey test;
# libstrongswan-standard-plugins has the gcm and openssl plugins that `mag ipsec-config`'s default
# proposals (aes256gcm16, ecp384) need to be negotiated at all.
# prometheus scrapes the lab MAGs and socat forwards to it (`mag lab up --metrics`, lab-metrics e2e).
# freeradius + freeradius-utils: the RADIUS policy source's e2e test and benchmark run a real
# FreeRADIUS 3.2 (its dictionary.rfc6572) in a namespace, and radclient sends RFC 5176 requests.
# udhcpc (busybox's DHCP client) is the unmodified IPv4 client of the MNs in the RFC 5844 tests
# (test/e2e/ipv4.test.ts, the lab demo, test/kernel/ip6tnl-ipv4.ktest.ts).
DEB_PACKAGES=(tshark iproute2 iputils-ping procps g++ make python3 kea-dhcp6-server isc-dhcp-client strongswan-swanctl strongswan-charon hostapd wpasupplicant debianutils user-mode-linux kmod ppp pppoe openssl libstrongswan-standard-plugins prometheus socat freeradius freeradius-utils udhcpc)
phase "Debian packages"
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

phase "npm ci"
./scripts/npm-ci.sh
phase "build"
npm run build
phase "lint and type-check"
npm run lint
phase "tests"
# timed_bg ENDFILE CMD...: CMD in the background ($! is its wrapper), its end time written to
# ENDFILE when it is done; a TERM to the wrapper is passed on to CMD (whose own traps clean up).
timed_bg() {
  local end=$1
  shift
  ( "$@" & c=$!; trap 'kill -TERM $c 2>/dev/null; wait $c' TERM; s=0; wait $c || s=$?; date +%s >"$end"; exit $s ) &
}
out=$(mktemp)
kout=$(mktemp)
status=0
# Docker phase: the docker lab end to end on a real engine (test/docker/run.sh). Debian 12's
# docker.io (engine 20.10) and compose v1 are installed when missing, debootstrap makes the
# base image where no registry serves node:20 (cached under /var/cache/pmip6-docker), nftables
# lets the run remove the nft tables its dockerd made. PMIP6_DOCKER=0 skips it (not in CI).
# It runs beside jest and the kernel tier (debootstrap and the image build mostly wait on
# downloads and disk; run one after another, the three took over 40 minutes from nothing).
DOCKER_PACKAGES=(docker.io docker-compose debootstrap nftables)
docker_status=0
docker_pid=""
kpid=""
docker_log=$(mktemp)
docker_on=1
if [ "${PMIP6_DOCKER:-1}" = 0 ] && [ "${CI:-}" != true ]; then docker_on=0; fi
if [ $docker_on = 1 ]; then
  missing=()
  for p in "${DOCKER_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null
  fi
  log "docker lab (test/docker/run.sh) started in the background; its log: $docker_log"
  docker_start=$(date +%s)
  # Its own end time is kept: waited for after the other phases, it would look as long as they.
  docker_end=$(mktemp)
  timed_bg "$docker_end" ./test/docker/run.sh >"$docker_log" 2>&1
  docker_pid=$!
  # Interrupted or failed early: stop it too (its own trap removes containers and its dockerd).
  trap 'if [ -n "$docker_pid" ] && kill -0 "$docker_pid" 2>/dev/null; then kill -TERM "$docker_pid"; wait "$docker_pid" || true; fi' EXIT
else
  log "docker lab: skipped (PMIP6_DOCKER=0)"
fi
# The real-kernel tier (one User-Mode Linux boot, several minutes) runs beside jest: the VM is
# one process on one CPU, and jest's lab suites mostly wait, so side by side the two take about
# the longer of them instead of their sum (issue 18: the command under two CPU hogs). Its output
# goes to a file, printed once it is done. Test-path arguments narrow the host run only.
# ppp.ktest.ts (pppd over a pty, PPPoE): after the hooks' and the presence listing's deadline
# fixes it passed 3 runs in a row (VM 943 s with ip6tnl-ipv4 at load 13-15, 297 s and 251 s alone
# at load 1-8; issue 19). gre.ktest.ts (RFC 5845 keys over ip6gre) and ip6tnl-ipv4.ktest.ts
# (RFC 5844 over `mode any`), with captures synced by markers and pings one request at a time,
# passed 3 runs in a row together: VM 118 s (load 0.4-1.0), 295 s (1.0-11.2), 354 s (11.2-9.4).
# gre-lab.ktest.ts (the two-LMA GRE lab through the real agent and lab LMAs, issue 21) passed 3
# runs in a row alone: VM 95 s (load 2.4), 100 s (0.4), 75 s (1.8).
kstatus=0
klog=$(mktemp)
kstart=$(date +%s)
kend=$(mktemp)
timed_bg "$kend" node test/kernel/run.js --timeout 2400 --json "$kout" kernel.ktest ip6tnl-dataplane ip6tnl-lab ipsec ppp gre.ktest ip6tnl-ipv4 gre-lab >"$klog" 2>&1
kpid=$!
trap 'for p in "$docker_pid" "$kpid"; do if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then kill -TERM "$p"; wait "$p" || true; fi; done' EXIT
log "real-kernel tier started in the background (User-Mode Linux); its log: $klog"
# The lab end-to-end suites mostly wait (protocol timers, a 40 s LMA silence, retransmissions at
# 1, 2, 4, 8 s), and each builds its own namespaces under its own name, so they run side by side:
# jest's default on 2 cores is one worker, which runs every file one after another.
# JEST_WORKERS overrides it.
npx jest --ci --json --outputFile="$out" --maxWorkers="${JEST_WORKERS:-4}" "$@" || status=$?
phase "real-kernel tier (rest of its run)"
wait "$kpid" || kstatus=$?
kpid=""
cat "$klog"
echo "real-kernel tier: $([ $kstatus -eq 0 ] && echo passed || echo FAILED) in $(($(cat "$kend" 2>/dev/null || date +%s) - kstart)) s"
rm -f "$klog" "$kend"
if [ -n "$docker_pid" ]; then
  phase "docker lab (rest of its run)"
  wait "$docker_pid" || docker_status=$?
  docker_pid=""
  tail -n 60 "$docker_log"
  echo "docker lab: $([ $docker_status -eq 0 ] && echo passed || echo FAILED) in $(($(cat "$docker_end" 2>/dev/null || date +%s) - docker_start)) s (whole log: $docker_log)"
  rm -f "$docker_end"
fi
phase ""
log "wall time per phase"
printf '  %s\n' "${PHASES[@]}"
node -e '
  const fs = require("fs")
  const read = (f) => { try { return JSON.parse(fs.readFileSync(f, "utf8")) } catch { return null } }
  const r = read(process.argv[1])
  const k = read(process.argv[2])
  const kstatus = Number(process.argv[3])
  // The docker lab counts as one test when it ran.
  const dockerRan = process.argv[4] === "1"
  const dockerOk = Number(process.argv[5]) === 0
  if (r) {
    const files = r.testResults.map((f) => ({ f: require("path").relative(process.cwd(), f.name), s: (f.endTime - f.startTime) / 1000 }))
    const groups = {}
    for (const { f, s } of files) { const g = f.split("/").slice(0, 2).join("/"); groups[g] = (groups[g] ?? 0) + s }
    console.log("\n== jest: time per file group (sum of file times; files run side by side)")
    for (const [g, s] of Object.entries(groups).sort((a, b) => b[1] - a[1])) console.log(`  ${g.padEnd(28)} ${s.toFixed(0).padStart(5)}s`)
    console.log("== jest: slowest files")
    for (const { f, s } of files.sort((a, b) => b.s - a.s).slice(0, 12)) console.log(`  ${f.padEnd(52)} ${s.toFixed(0).padStart(5)}s`)
  }
  const count = (x, key) => (x ? x[key] : 0)
  const passed = count(r, "numPassedTests") + count(k, "numPassedTests") + (dockerRan && dockerOk ? 1 : 0)
  // A tier that failed without a result (no UML with CI=true, the watchdog) counts as one failure.
  const failed = count(r, "numFailedTests") + count(k, "numFailedTests") + (k === null && kstatus !== 0 ? 1 : 0) + (dockerRan && !dockerOk ? 1 : 0)
  const skipped = count(r, "numPendingTests") + count(r, "numTodoTests") + count(k, "numPendingTests") + count(k, "numTodoTests")
  console.log(`real-kernel tier: ${count(k, "numPassedTests")} of ${count(k, "numTotalTests")} passed` + (k === null ? " (no result)" : ""))
  console.log(`tests: ${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""))
' "$out" "$kout" "$kstatus" "$docker_on" "$docker_status" || true
rm -f "$out" "$kout"
if [ "$status" -eq 0 ]; then status=$kstatus; fi
if [ "$status" -eq 0 ]; then status=$docker_status; fi
exit $status

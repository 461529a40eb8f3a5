#!/bin/sh
# Container start for the MAG, the LMA and the lab hosts, and the lab's helpers:
#   mag-entrypoint CMD...      set the container up (below), then exec CMD
#   mag-entrypoint idle        PID 1 of the lab hosts: waits, and exits at once on SIGTERM
#   mag-entrypoint mn-link     (MN) give every access interface the MN's MAC, verify its IPv6,
#                              drop Docker's default routes (docker/handoff.sh runs it)
#   mag-entrypoint health      the healthcheck: the daemon's own readiness, or the setup's
# Every step fails loudly: a lab that cannot be set up exits non-zero with the reason.
#
# Docker names interfaces eth0, eth1... in an order compose does not promise, so interfaces are
# found by an address they carry and renamed to what the configs use:
#   MAG_IFACES="up0=2001:db8:ffff:: mn1=198.51.100.34/"   (name=address prefix, space separated)
# On a MAG's access links (MAG_ACCESS="mn1"), the fixed link-layer and link-local addresses of
# RFC 5213 §6.8 replace what Docker assigned, so every MAG looks like the same router.
# MN_MAC=02:00:00:00:01:01 makes a lab host an MN: its access interfaces carry that MAC (compose's
# mac_address is dropped by some compose/engine pairs, and `docker network connect` has no MAC
# option), so its SLAAC address is the same on every access link.
# MAG_DEFAULT_VIA=2001:db8:cccc::1 adds a default route (the CN's way back).
set -eu
STATE=/run/mag-entrypoint

die() { echo "mag-entrypoint: $*" >&2; exit 1; }

# /proc/sys is read-only in an unprivileged container: a value the lab needs is set where it can
# be, and otherwise must already be right (compose `sysctls:`, applied when the container is made).
need_sysctl() {
  key=$1 want=$2 f=/proc/sys/$(echo "$1" | tr . /)
  [ -r "$f" ] || die "$key does not exist (is IPv6 enabled in this kernel and container?)"
  [ "$(cat "$f")" = "$want" ] && return 0
  if [ -w "$f" ] && echo "$want" >"$f" 2>/dev/null && [ "$(cat "$f")" = "$want" ]; then return 0; fi
  die "$key is $(cat "$f"), the lab needs $want, and /proc/sys is read-only here: set it with compose sysctls (net.ipv6.conf.all.* and default.*), and make every network the container joins enable_ipv6 (Docker 26+ disables IPv6 on the interfaces of IPv4-only networks)"
}

rename() {
  want=$1 prefix=$2 dev=
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    dev=$(ip -o addr show | awk -v p="$prefix" 'index($4, p) == 1 { print $2; exit }')
    [ -n "$dev" ] && break
    sleep 0.5
  done
  [ -n "$dev" ] || die "no interface with an address in $prefix"
  [ "$dev" = "$want" ] && return 0
  # Taking a link down drops its IPv6 addresses (keep_addr_on_down is 0): note them and put
  # them back after the rename.
  addrs=$(ip -o -6 addr show dev "$dev" scope global | awk '{ print $4 }')
  ip link set dev "$dev" down
  ip link set dev "$dev" name "$want"
  ip link set dev "$want" up
  for a in $addrs; do ip -6 addr add "$a" dev "$want" nodad; done
}

# An access link of a MAG: the fixed MAC and fe80::1 only (no EUI-64 link-local next to it,
# no Docker-assigned global address), IPv6 on, forwarding on.
access_link() {
  link=$1 lladdr=${MAG_FIXED_LLADDR:-02:00:00:00:00:fe} ll=${MAG_FIXED_LINKLOCAL:-fe80::1}
  need_sysctl "net.ipv6.conf.$link.disable_ipv6" 0
  need_sysctl "net.ipv6.conf.$link.forwarding" 1
  ip link set dev "$link" down
  # addr_gen_mode over netlink (no /proc/sys write): the kernel makes no link-local of its own.
  ip link set dev "$link" addrgenmode none
  ip link set dev "$link" address "$lladdr"
  ip -6 addr flush dev "$link"
  ip link set dev "$link" up
  ip -6 addr add "$ll/64" dev "$link" nodad
  got=$(ip -o -6 addr show dev "$link" | awk '{ print $4 }' | tr '\n' ' ')
  [ "$got" = "$ll/64 " ] || die "$link has IPv6 addresses '$got', expected only $ll/64"
}

# Docker gives containers a default route via its bridge in the host, even on internal
# networks (engine 20.10, also when it moves its gateway at `network connect`/`disconnect`):
# the lab is closed, so only the routes the lab sets are kept: IPv6 defaults via a link-local
# router (RAs) or via MAG_DEFAULT_VIA, and no IPv4 default.
drop_docker_defaults() {
  for gw in $(ip -6 route show default | awk '$2 == "via" && $3 !~ /^fe80:/ { print $3 }'); do
    [ "$gw" = "${MAG_DEFAULT_VIA:-}" ] || ip -6 route del default via "$gw" || die "cannot remove Docker's default route via $gw (the lab's containers need cap_add NET_ADMIN)"
  done
  while ip -4 route show default | grep -q .; do
    ip -4 route del default || die "cannot remove Docker's IPv4 default route (the lab's containers need cap_add NET_ADMIN)"
  done
}

# The MN's access interfaces (every interface but lo): its own MAC, IPv6 with SLAAC.
mn_link() {
  mac=${1:-${MN_MAC:-}}
  [ -n "$mac" ] || die "mn-link: no MAC (MN_MAC or an argument)"
  n=0
  for dev in $(ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
    [ "$dev" = lo ] && continue
    n=$((n + 1))
    need_sysctl "net.ipv6.conf.$dev.disable_ipv6" 0
    need_sysctl "net.ipv6.conf.$dev.forwarding" 0
    need_sysctl "net.ipv6.conf.$dev.accept_ra" 1
    need_sysctl "net.ipv6.conf.$dev.autoconf" 1
    [ "$(cat "/sys/class/net/$dev/address")" = "$mac" ] && continue
    # Down drops Docker's IPv6 address (keep_addr_on_down 0) and the old EUI-64 link-local;
    # up starts SLAAC again with the MN's own interface identifier.
    ip link set dev "$dev" down
    ip -6 addr flush dev "$dev"
    ip link set dev "$dev" address "$mac"
    ip link set dev "$dev" up
    [ "$(cat "/sys/class/net/$dev/address")" = "$mac" ] || die "mn-link: $dev kept $(cat "/sys/class/net/$dev/address")"
  done
  [ "$n" -gt 0 ] || die "mn-link: no access interface"
  drop_docker_defaults
}

health() {
  role=$(cat "$STATE/role" 2>/dev/null) || die "health: setup has not finished"
  case $role in
    mag) sock=${MAG_SOCKET:-/run/mag/mag.sock} ;;
    lma) sock=${MAG_LMA_SOCKET:-/run/mag/lma.sock} ;;
    host) echo ready; return 0 ;;
    *) die "health: unknown role $role" ;;
  esac
  # The daemon's own status (what `mag status --json` shows), asked in one node process: the
  # healthcheck runs every few seconds on machines that are busy enough already.
  # MAG: ready once it answers, serves every access link and its data plane runs
  # (dataplane.state is there once the kernel data plane started). LMA: once it answers.
  node -e '
    const [role, path] = process.argv.slice(1)
    const c = require("net").connect(path)
    let buf = ""
    const fail = (m) => { console.error(m); process.exit(1) }
    c.setTimeout(8000, () => fail("no answer on " + path))
    c.on("error", (e) => fail(path + ": " + e.message))
    c.on("connect", () => c.write(JSON.stringify({ cmd: "status" }) + "\n"))
    c.on("data", (d) => {
      buf += d
      if (!buf.includes("\n")) return
      const r = JSON.parse(buf.split("\n")[0])
      if (!r.ok) fail("status: " + JSON.stringify(r))
      if (role === "lma") { console.log("ready: " + r.status.bindings + " bindings"); process.exit(0) }
      const s = r.result
      // status names the first 64 links (configured ones come first); linkCount counts them all.
      const missing = (process.env.MAG_ACCESS || "").split(/\s+/).filter((l) => l && !s.links.includes(l))
      if (missing.length && !(s.linkCount > s.links.length)) fail("links not served: " + missing.join(" "))
      if (!s.dataplane || !s.dataplane.state) fail("data plane not running")
      console.log("ready: links " + s.links.join(" ") + (s.linkCount > s.links.length ? " (" + s.linkCount + " in all)" : "") + ", " + s.bindings + " bindings")
      process.exit(0)
    })' "$role" "$sock"
}

case ${1:-} in
  health) health; exit ;;
  mn-link) shift; mn_link "$@"; exit ;;
esac

mkdir -p "$STATE"
rm -f "$STATE/role"
for pair in ${MAG_IFACES:-}; do rename "${pair%%=*}" "${pair#*=}"; done
if [ -n "${MAG_ACCESS:-}" ]; then
  need_sysctl net.ipv6.conf.all.forwarding 1
  for link in $MAG_ACCESS; do access_link "$link"; done
fi
[ -z "${MN_MAC:-}" ] || mn_link "$MN_MAC"
if [ -n "${MAG_DEFAULT_VIA:-}" ]; then ip -6 route replace default via "$MAG_DEFAULT_VIA"; fi
drop_docker_defaults

case "${1:-} ${2:-}" in
  "mag run") echo mag >"$STATE/role" ;;
  "mag lma") echo lma >"$STATE/role" ;;
  *) echo host >"$STATE/role" ;;
esac
if [ "${1:-}" = idle ]; then
  # PID 1 gets no default signal handlers: without this trap, `docker stop` waits its 10 s.
  trap 'exit 0' TERM INT
  while :; do
    sleep 3600 &
    wait $! || true
  done
fi
exec "$@"

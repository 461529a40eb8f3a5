#!/bin/sh
# Container start for the MAG, the LMA and the lab hosts. Docker names interfaces eth0, eth1...
# in an order compose does not promise, so interfaces are found by the subnet of an address
# they carry and renamed to what the configs use:
#   MAG_IFACES="up0=2001:db8:ffff: mn1=172.30.1."   (name=address prefix, space separated)
# On a MAG's access links (MAG_ACCESS="mn1"), the fixed link-layer and link-local addresses
# of RFC 5213 §6.8 replace what Docker assigned, so every MAG looks like the same router.
# MAG_DEFAULT_VIA=2001:db8:cccc::1 adds a default route (the CN's way back).
set -eu
rename() {
  want=$1 prefix=$2
  for i in 1 2 3 4 5 6 7 8 9 10; do
    dev=$(ip -o addr show | awk -v p="$prefix" 'index($4, p) == 1 { print $2; exit }')
    [ -n "$dev" ] && break
    sleep 0.5
  done
  [ -n "$dev" ] || { echo "entrypoint: no interface with an address in $prefix" >&2; exit 1; }
  [ "$dev" = "$want" ] && return 0
  # Taking a link down drops its IPv6 addresses (keep_addr_on_down is 0 by default, and
  # /proc/sys may be read-only here): note them and put them back after the rename.
  addrs=$(ip -o -6 addr show dev "$dev" scope global | awk '{ print $4 }')
  ip link set dev "$dev" down
  ip link set dev "$dev" name "$want"
  ip link set dev "$want" up
  for a in $addrs; do ip -6 addr add "$a" dev "$want" nodad 2>/dev/null || true; done
}
for pair in ${MAG_IFACES:-}; do rename "${pair%%=*}" "${pair#*=}"; done
for link in ${MAG_ACCESS:-}; do
  # Best effort: /proc/sys is read-only in unprivileged containers (then compose's sysctls apply).
  sysctl -qw "net.ipv6.conf.$link.accept_ra=0" 2>/dev/null || true
  sysctl -qw "net.ipv6.conf.$link.addr_gen_mode=1" 2>/dev/null || true
  ip link set dev "$link" down
  ip link set dev "$link" address "${MAG_FIXED_LLADDR:-02:00:00:00:00:fe}"
  ip link set dev "$link" up
  ip -6 addr add "${MAG_FIXED_LINKLOCAL:-fe80::1}/64" dev "$link" nodad 2>/dev/null || true
done
if [ -n "${MAG_DEFAULT_VIA:-}" ]; then ip -6 route replace default via "$MAG_DEFAULT_VIA"; fi
exec "$@"

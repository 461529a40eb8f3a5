/**
 * The lab's namespaces, links, addresses, routes and sysctls (plan.ts draws them), as NetBuild
 * phases: about two processes per namespace (its `ip -batch` and its sysctl shell), plus one
 * `ip -batch` per phase in the root namespace, instead of one process per setting.
 *
 * Each phase needs what the one before made:
 *   1. namespaces;
 *   2. namespace defaults, before any interface exists, so every interface made later
 *      (veths now, the daemons' tunnels later) inherits them;
 *   3. links: every veth made in place with both ends named in their namespaces, the bridges;
 *   4. per-interface settings, before the interface goes up (no EUI-64 link-local address on
 *      an access link, ever), and forwarding;
 *   5. bridge ports, addresses, links up;
 *   6. routes, once both ends of every link are up (as the lab always added them).
 */
import { NetBuild } from './netbuild'
import { PLAN, MAGS, SINGLE_LMA, accessLink, lmaPlans, mnId, mnMac, type LabNames, type LabShape, type MagName } from './plan'

export interface TopologyPlan {
  readonly namespaces: readonly string[]
  readonly phases: readonly { readonly what: string; readonly build: NetBuild }[]
  /** Which MAG each MN's air port is up towards. */
  readonly mnAt: Record<string, MagName>
}

/** MN i's air port towards a MAG, in the "air" namespace. */
export function airPort(mag: MagName, i: number): string {
  return `${mag === 'mag1' ? 'x' : 'y'}${i}`
}

/**
 * The lab of `shape` (one LMA by default). A second LMA (lma2) hangs off the transport bridge in
 * lma's namespace with its own CN (cn2) behind it; with GRE keys the MAGs and LMAs do no reverse
 * path filtering (see below).
 */
export function planTopology(n: LabNames, mns: number, shape: LabShape = SINGLE_LMA): TopologyPlan {
  const lmas = lmaPlans(shape)
  const second = lmas[1]
  const mnNs = Array.from({ length: mns }, (_, k) => n.mn(k + 1))
  const namespaces = [n.lma, n.cn, ...(second ? [n.lma2, n.cn2] : []), n.air, n.mag.mag1, n.mag.mag2, ...mnNs]

  const nsPhase = new NetBuild()
  for (const ns of namespaces) nsPhase.ip(null, ['netns', 'add', ns])

  const defaults = new NetBuild()
  for (const ns of namespaces) {
    // Every address in the lab is planned and unique: no DAD, or each fresh link-local address
    // stays tentative for a second and holds the first neighbour solicitations (and pings) back.
    defaults.sysctl(ns, 'net.ipv6.conf.default.accept_dad', 0)
    defaults.sysctl(ns, 'net.ipv6.conf.all.accept_dad', 0)
  }
  // "air" is layer 2 only: its bridge ports must not configure themselves from our RAs.
  defaults.sysctl(n.air, 'net.ipv6.conf.default.disable_ipv6', 1)
  defaults.sysctl(n.air, 'net.ipv6.conf.all.disable_ipv6', 1)
  // The lab's bridges forward frames, nothing more: where br_netfilter is built in it would
  // run ip6tables on every bridged frame (per namespace, on by default), a cost a real
  // transport or radio link does not add to the figures measured across the lab.
  for (const ns of [n.lma, n.air]) defaults.sysctl(ns, 'net.bridge.bridge-nf-call-ip6tables', 0, { ifPresent: true })
  if (shape.greKeys) {
    // RFC 5845: a GRE-keyed MN's IPv4 home address is routed only in its binding's own tables
    // (iif rules), which a reverse path check (a lookup towards the source, iif lo) never
    // reaches, and two MNs may share the address: the check would drop their uplink. Set before
    // any interface exists: a device's check is the larger of `all` and its own.
    for (const ns of [n.mag.mag1, n.mag.mag2, n.lma, ...(second ? [n.lma2] : [])]) {
      defaults.sysctl(ns, 'net.ipv4.conf.all.rp_filter', 0)
      defaults.sysctl(ns, 'net.ipv4.conf.default.rp_filter', 0)
    }
  }
  // The MN is a plain IPv6 host: SLAAC from the RAs its MAG emulates (RFC 4862). Its eth0,
  // made in the next phase, inherits these.
  for (const ns of mnNs) {
    defaults.sysctl(ns, 'net.ipv6.conf.default.accept_ra', 1)
    defaults.sysctl(ns, 'net.ipv6.conf.default.autoconf', 1)
  }

  const links = new NetBuild()
  const veth = (nsA: string, ifA: string, nsB: string, ifB: string, o: { macA?: string; macB?: string } = {}) =>
    links.ip(null, ['link', 'add', ifA, 'netns', nsA, ...(o.macA ? ['address', o.macA] : []), 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB, ...(o.macB ? ['address', o.macB] : [])])
  // Transport network: a bridge in the LMA namespace, one port per MAG.
  links.ip(null, ['link', 'add', 'br0', 'netns', n.lma, 'type', 'bridge'])
  for (const mag of MAGS) veth(n.mag[mag], 'up0', n.lma, `p-${mag}`)
  // Correspondent node behind the LMA.
  veth(n.cn, 'eth0', n.lma, 'cn0')
  // The second LMA: one more port on the transport bridge, its own correspondent node.
  if (second) {
    veth(n.lma2, 'up0', n.lma, 'p-lma2')
    veth(n.cn2, 'eth0', n.lma2, 'cn0')
  }
  // Mobile nodes: eth0 -> a bridge in "air" -> one port per MAG.
  for (let i = 1; i <= mns; i++) {
    veth(n.mn(i), 'eth0', n.air, `m${i}`, { macA: mnMac(i) })
    links.ip(null, ['link', 'add', `b${i}`, 'netns', n.air, 'type', 'bridge'])
    for (const mag of MAGS) veth(n.air, airPort(mag, i), n.mag[mag], accessLink(i), { macB: PLAN.fixedLinkLayer })
  }

  const ifSettings = new NetBuild()
  for (const mag of MAGS) {
    const ns = n.mag[mag]
    ifSettings.sysctl(ns, 'net.ipv6.conf.all.forwarding', 1)
    for (let i = 1; i <= mns; i++) {
      // Only the fixed link-local address on the access link: the MN sees one router everywhere.
      const link = accessLink(i)
      ifSettings.sysctl(ns, `net.ipv6.conf.${link}.addr_gen_mode`, 1)
      ifSettings.sysctl(ns, `net.ipv6.conf.${link}.accept_ra`, 0)
      ifSettings.sysctl(ns, `net.ipv6.conf.${link}.accept_dad`, 0)
    }
  }
  ifSettings.sysctl(n.lma, 'net.ipv6.conf.all.forwarding', 1)
  ifSettings.sysctl(n.lma, 'net.ipv4.ip_forward', 1)
  if (second) {
    ifSettings.sysctl(n.lma2, 'net.ipv6.conf.all.forwarding', 1)
    ifSettings.sysctl(n.lma2, 'net.ipv4.ip_forward', 1)
  }
  if (shape.greKeys) {
    // Set after the lab's own links exist, so only devices made later (the daemons' ip6gre
    // devices) get no IPv6 link-local address: no router solicitations or MLD reports of their
    // own through a binding's device, whose counters then hold its MN's packets only.
    for (const ns of [n.mag.mag1, n.mag.mag2, n.lma, ...(second ? [n.lma2] : [])]) ifSettings.sysctl(ns, 'net.ipv6.conf.default.addr_gen_mode', 1)
  }

  const up = new NetBuild()
  for (const ns of namespaces) up.ip(ns, ['link', 'set', 'lo', 'up'])
  up.ip(n.lma, ['addr', 'add', `${PLAN.lma}/${PLAN.transportPrefixLength}`, 'dev', 'br0', 'nodad'])
  up.ip(n.lma, ['link', 'set', 'br0', 'up'])
  /** A node on the transport bridge: its port on the LMA's bridge, its address on its up0. */
  const onTransport = (ns: string, port: string, address: string): void => {
    up.ip(n.lma, ['link', 'set', port, 'master', 'br0'])
    up.ip(n.lma, ['link', 'set', port, 'up'])
    up.ip(ns, ['addr', 'add', `${address}/${PLAN.transportPrefixLength}`, 'dev', 'up0', 'nodad'])
    up.ip(ns, ['link', 'set', 'up0', 'up'])
  }
  /** A CN behind an LMA, IPv6 and IPv4 (RFC 5844: the LMA routes the MNs' IPv4 to it). */
  const cnBehind = (lmaNs: string, cnNs: string, a: { cn: string; cn4: string; cnLinkLma: string; cn4LinkLma: string }): void => {
    up.ip(cnNs, ['addr', 'add', `${a.cn}/${PLAN.cnPrefixLength}`, 'dev', 'eth0', 'nodad'])
    up.ip(cnNs, ['addr', 'add', `${a.cn4}/${PLAN.cn4PrefixLength}`, 'dev', 'eth0'])
    up.ip(lmaNs, ['addr', 'add', `${a.cnLinkLma}/${PLAN.cnPrefixLength}`, 'dev', 'cn0', 'nodad'])
    up.ip(lmaNs, ['addr', 'add', `${a.cn4LinkLma}/${PLAN.cn4PrefixLength}`, 'dev', 'cn0'])
    up.ip(cnNs, ['link', 'set', 'eth0', 'up'])
    up.ip(lmaNs, ['link', 'set', 'cn0', 'up'])
  }
  for (const mag of MAGS) onTransport(n.mag[mag], `p-${mag}`, PLAN.mags[mag])
  cnBehind(n.lma, n.cn, PLAN)
  if (second) {
    onTransport(n.lma2, 'p-lma2', second.address)
    cnBehind(n.lma2, n.cn2, second)
  }
  const mnAt: Record<string, MagName> = {}
  for (let i = 1; i <= mns; i++) {
    up.ip(n.air, ['link', 'set', `m${i}`, 'master', `b${i}`])
    up.ip(n.air, ['link', 'set', `m${i}`, 'up'])
    for (const mag of MAGS) {
      const ns = n.mag[mag]
      const link = accessLink(i)
      up.ip(n.air, ['link', 'set', airPort(mag, i), 'master', `b${i}`])
      up.ip(ns, ['link', 'set', link, 'up'])
      up.ip(ns, ['addr', 'add', `${PLAN.fixedLinkLocal}/64`, 'dev', link, 'nodad'])
      // Only the port to mag1 is up: the MN starts there.
      if (mag === 'mag1') up.ip(n.air, ['link', 'set', airPort(mag, i), 'up'])
    }
    up.ip(n.air, ['link', 'set', `b${i}`, 'up'])
    up.ip(n.mn(i), ['link', 'set', 'eth0', 'up'])
    mnAt[mnId(i)] = 'mag1'
  }

  // No -6/-4 needed: ip takes the family from the gateway's address.
  const routes = new NetBuild()
  for (const mag of MAGS) {
    // The LMA is also the transport network's router: towards the correspondent, and back to
    // each MAG's local prefixes (Scenario B traffic is routed natively, not tunnelled).
    routes.ip(n.mag[mag], ['route', 'add', 'default', 'via', PLAN.lma, 'dev', 'up0'])
    routes.ip(n.lma, ['route', 'add', PLAN.localPools[mag], 'via', PLAN.mags[mag], 'dev', 'br0'])
  }
  routes.ip(n.cn, ['route', 'add', 'default', 'via', PLAN.cnLinkLma, 'dev', 'eth0'])
  routes.ip(n.cn, ['route', 'add', 'default', 'via', PLAN.cn4LinkLma, 'dev', 'eth0'])
  if (second) {
    // cn2 reaches only lma2; the MNs lma2 serves reach cn2 through their tunnels.
    routes.ip(n.cn2, ['route', 'add', 'default', 'via', second.cnLinkLma, 'dev', 'eth0'])
    routes.ip(n.cn2, ['route', 'add', 'default', 'via', second.cn4LinkLma, 'dev', 'eth0'])
  }

  return {
    namespaces,
    mnAt,
    phases: [
      { what: 'namespaces', build: nsPhase },
      { what: 'namespace defaults', build: defaults },
      { what: 'links', build: links },
      { what: 'interface settings', build: ifSettings },
      { what: 'addresses and links up', build: up },
      { what: 'routes', build: routes },
    ],
  }
}

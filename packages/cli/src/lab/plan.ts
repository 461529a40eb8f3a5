/**
 * The lab's address plan and node names. Every address is from 2001:db8::/32 (RFC 3849) and
 * lives only inside the lab's own network namespaces.
 *
 *   mn<i> (eth0) --- air: bridge b<i> ---+--- mag1 (mn<i>) --- up0 ==+
 *                                        +--- mag2 (mn<i>) --- up0 ==+== lma (br0) --- cn0 --- cn (eth0)
 *
 * IPv4 (RFC 5844): the CN also has 203.0.113.2/24 (the LMA 203.0.113.1 on cn0), and the lab LMA
 * hands out IPv4 home addresses from 192.0.2.0/24 (router 192.0.2.1). RFC 5737 documentation
 * ranges, only inside the lab's namespaces.
 *
 * Two LMAs (`mag lab up --lmas 2`): lma2 (2001:db8:ffff::4) joins the transport bridge, with its
 * own correspondent node cn2 and its own pools. Each LMA's CN side is a network of its own, so
 * both CNs are 203.0.113.2 (2001:db8:cccc::2 and 2001:db8:cccd::2 for IPv6); MN i is served by
 * lma for odd i, lma2 for even i. lma2's IPv4 pool is 198.51.100.0/24, or with GRE keys
 * (RFC 5845) 192.0.2.0/24 like lma's: two MNs at one MAG then hold the same IPv4 home address,
 * told apart by their keys alone.
 *
 * The "air" namespace holds one bridge per MN with a port towards each MAG; a handoff takes the
 * port to the old MAG down and the one to the new MAG up, so the MN's own interface never
 * changes, as with a real layer-2 handover.
 */
export const LAB_DEFAULT_NAME = 'maglab'
export const STATE_ROOT = '/run/mag-lab'

export const PLAN = {
  transportPrefixLength: 64,
  lma: '2001:db8:ffff::2',
  mags: { mag1: '2001:db8:ffff::1', mag2: '2001:db8:ffff::3' } as Record<MagName, string>,
  cnLinkLma: '2001:db8:cccc::1',
  cn: '2001:db8:cccc::2',
  cnPrefixLength: 64,
  cn4LinkLma: '203.0.113.1',
  cn4: '203.0.113.2',
  cn4PrefixLength: 24,
  homePool4: '192.0.2.0/24',
  homePool: '2001:db8:100::/48',
  localPools: { mag1: '2001:db8:a1::/48', mag2: '2001:db8:a2::/48' } as Record<MagName, string>,
  fixedLinkLocal: 'fe80::1',
  fixedLinkLayer: '02:00:00:00:00:fe',
  realm: 'example.com',
} as const

/** Each lab MAG serves /metrics (and /bindings, /status) here on its transport address. */
export const LAB_METRICS_PORT = 9477

export type MagName = 'mag1' | 'mag2'
export const MAGS: readonly MagName[] = ['mag1', 'mag2']

export function mnId(i: number): string {
  return `mn${i}@${PLAN.realm}`
}

export function mnMac(i: number): string {
  return `02:00:00:00:01:${i.toString(16).padStart(2, '0')}`
}

/** The MAG's access link towards MN i (same name on both MAGs). */
export function accessLink(i: number): string {
  return `mn${i}`
}

export type LmaName = 'lma' | 'lma2'
export const LMA_NAMES: readonly LmaName[] = ['lma', 'lma2']
/** Most LMAs a lab has. */
export const MAX_LAB_LMAS = LMA_NAMES.length

/** One lab LMA: its transport address, its correspondent node and its pools. */
export interface LmaPlan {
  readonly node: LmaName
  /** The lab node of its correspondent ("cn", "cn2"). */
  readonly cnNode: 'cn' | 'cn2'
  readonly address: string
  readonly cnLinkLma: string
  readonly cn: string
  readonly cn4LinkLma: string
  readonly cn4: string
  /** IPv6 home network prefixes (RFC 5213 §5.2). */
  readonly homePool: string
  /** IPv4 home addresses (RFC 5844 §3.1); the first address is the default router. */
  readonly homePool4: string
}

/** What a lab is made of: how many LMAs, whether GRE keys are on, each LMA's IPv4 pool. */
export interface LabShape {
  readonly lmas: number
  readonly greKeys: boolean
  /** IPv4 pools, one per LMA; absent: the plan's (overlapping only with greKeys). */
  readonly ipv4Pools?: readonly string[]
}

export const SINGLE_LMA: LabShape = { lmas: 1, greKeys: false }

/** lma2's pool without GRE keys: distinct from lma's, so the MAG can route each address. */
export const LMA2_DISTINCT_POOL4 = '198.51.100.0/24'

/**
 * The lab's LMAs. Refuses (naming the field) a shape the MAG could not carry: overlapping IPv4
 * pools without GRE keys, as two MNs of one MAG could then hold one address that nothing tells
 * apart (RFC 5845 §1: the GRE key is what does).
 */
export function lmaPlans(shape: LabShape): LmaPlan[] {
  if (!Number.isInteger(shape.lmas) || shape.lmas < 1 || shape.lmas > MAX_LAB_LMAS) throw new Error(`lmas must be 1 or ${MAX_LAB_LMAS}, not ${shape.lmas}`)
  const first: LmaPlan = { node: 'lma', cnNode: 'cn', address: PLAN.lma, cnLinkLma: PLAN.cnLinkLma, cn: PLAN.cn, cn4LinkLma: PLAN.cn4LinkLma, cn4: PLAN.cn4, homePool: PLAN.homePool, homePool4: PLAN.homePool4 }
  const second: LmaPlan = {
    node: 'lma2',
    cnNode: 'cn2',
    address: '2001:db8:ffff::4',
    cnLinkLma: '2001:db8:cccd::1',
    cn: '2001:db8:cccd::2',
    // A network of its own behind lma2: the same addresses as lma's CN side.
    cn4LinkLma: PLAN.cn4LinkLma,
    cn4: PLAN.cn4,
    homePool: '2001:db8:200::/48',
    homePool4: shape.greKeys ? PLAN.homePool4 : LMA2_DISTINCT_POOL4,
  }
  const plans = [first, second].slice(0, shape.lmas)
  const pools = shape.ipv4Pools
  if (pools === undefined) return plans
  if (pools.length !== plans.length) throw new Error(`ipv4Pools: ${pools.length} pools for ${plans.length} LMAs`)
  const out = plans.map((p, k) => ({ ...p, homePool4: ipv4PoolText(pools[k]!, `ipv4Pools[${k}]`) }))
  if (!shape.greKeys) {
    for (let a = 0; a < out.length; a++)
      for (let b = a + 1; b < out.length; b++)
        if (ipv4Overlap(out[a]!.homePool4, out[b]!.homePool4))
          throw new Error(`ipv4Pools: ${out[a]!.homePool4} (${out[a]!.node}) and ${out[b]!.homePool4} (${out[b]!.node}) overlap: two MNs at one MAG could hold the same IPv4 home address, which only GRE keys tell apart (RFC 5845); turn greKeys on or give the LMAs distinct pools`)
  }
  return out
}

/** Which LMA serves MN i: lma for odd i, lma2 for even i (with two). */
export function mnLma(i: number, lmas: number): LmaName {
  return lmas > 1 && i % 2 === 0 ? 'lma2' : 'lma'
}

function ipv4Range(text: string): { lo: number; hi: number } {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text)
  if (!m) throw new Error(`not an IPv4 prefix: ${text}`)
  const octets = m.slice(1, 5).map(Number)
  const len = Number(m[5])
  if (octets.some((o) => o > 255) || len > 32) throw new Error(`not an IPv4 prefix: ${text}`)
  const n = octets.reduce((a, o) => a * 256 + o, 0)
  const size = 2 ** (32 - len)
  const lo = n - (n % size)
  return { lo, hi: lo + size - 1 }
}

function ipv4PoolText(text: string, field: string): string {
  try {
    // 8..30: a pool holds a router and at least one MN, and stays a pool (not a whole /0).
    const len = Number(text.split('/')[1])
    ipv4Range(text)
    if (len < 8 || len > 30) throw new Error(`${text}: a pool is /8 to /30`)
    return text
  } catch (e) {
    throw new Error(`${field}: ${(e as Error).message}`)
  }
}

/** Whether two IPv4 prefixes share an address. */
export function ipv4Overlap(a: string, b: string): boolean {
  const x = ipv4Range(a)
  const y = ipv4Range(b)
  return x.lo <= y.hi && y.lo <= x.hi
}

/** The default router of an IPv4 pool (its first address, as the lab LMA gives it). */
export function poolRouter(pool: string): string {
  const r = ipv4Range(pool)
  const n = r.lo + 1
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.')
}

export interface LabNames {
  readonly name: string
  readonly lma: string
  readonly lma2: string
  readonly cn: string
  readonly cn2: string
  readonly air: string
  readonly mag: Record<MagName, string>
  mn(i: number): string
  readonly stateDir: string
}

export function names(lab: string): LabNames {
  if (!/^[a-z][a-z0-9]{0,11}$/.test(lab)) throw new Error(`lab name must be 1-12 lower-case letters and digits, starting with a letter: ${lab}`)
  return {
    name: lab,
    lma: `${lab}-lma`,
    lma2: `${lab}-lma2`,
    cn: `${lab}-cn`,
    cn2: `${lab}-cn2`,
    air: `${lab}-air`,
    mag: { mag1: `${lab}-mag1`, mag2: `${lab}-mag2` },
    mn: (i: number) => `${lab}-mn${i}`,
    stateDir: `${STATE_ROOT}/${lab}`,
  }
}

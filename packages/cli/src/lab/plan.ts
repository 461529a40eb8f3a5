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

export interface LabNames {
  readonly name: string
  readonly lma: string
  readonly cn: string
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
    cn: `${lab}-cn`,
    air: `${lab}-air`,
    mag: { mag1: `${lab}-mag1`, mag2: `${lab}-mag2` },
    mn: (i: number) => `${lab}-mn${i}`,
    stateDir: `${STATE_ROOT}/${lab}`,
  }
}

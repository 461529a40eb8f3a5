// PBU builders and command helpers for the lab LMA tests. Values follow protocol-reference.md §10.
import {
  ALL_ZERO_ADDR,
  formatPrefix,
  PBU_FLAGS,
  mh,
  parseMac,
  parsePrefix,
  timestampFromMs,
  type BindingAck,
  type BindingUpdate,
  type MhMessage,
  type MobilityOption,
} from '@pmip6/wire'
import type { LmaCommand, LmaCore } from '@pmip6/lab-lma'

export const LMA = '2001:db8:ffff::2'
export const MAG1 = '2001:db8:ffff::1'
export const MAG2 = '2001:db8:ffff::3'
export const NAI = 'mn1@example.com'
export const MAC = '00:11:22:33:44:55'
/** protocol-reference.md §10.1: 2024-01-01T00:00:00.5Z */
export const T0 = Date.parse('2024-01-01T00:00:00.5Z')

export interface PbuSpec {
  seq?: number
  lifetime?: number
  p?: boolean
  a?: boolean
  /** null: no MN-ID option. */
  mnId?: string | null
  /** null: no HNP option; 'zero': ALL_ZERO (default); a prefix text; or a list of them. */
  hnp?: null | 'zero' | string | string[]
  /** null: no HI option. Default 1. */
  hi?: number | null
  /** null: no ATT option. Default 4 (802.11). */
  att?: number | null
  /** Timestamp in ms since 1970; null: no Timestamp option. Default: the `at` of the send. */
  ts?: number | null
  llId?: string | null
  lla?: string
  /** Options put first, before the usual ones. */
  extra?: MobilityOption[]
  /** Use exactly these options (in this order). */
  options?: MobilityOption[]
}

export function hnpOpt(text: string | 'zero'): MobilityOption {
  if (text === 'zero') return { type: 'hnp', prefixLength: 0, prefix: ALL_ZERO_ADDR }
  const p = parsePrefix(text)
  return { type: 'hnp', prefixLength: p.length, prefix: p.prefix }
}

export function pbuMsg(spec: PbuSpec, at: number): BindingUpdate {
  const options: MobilityOption[] = spec.options ?? [
    ...(spec.extra ?? []),
    ...(spec.mnId === null ? [] : [{ type: 'mn-id' as const, subtype: 1, id: Buffer.from(spec.mnId ?? NAI) }]),
    ...(spec.hnp === null ? [] : (Array.isArray(spec.hnp) ? spec.hnp : [spec.hnp ?? 'zero']).map(hnpOpt)),
    ...(spec.hi === null ? [] : [{ type: 'handoff-indicator' as const, value: spec.hi ?? 1 }]),
    ...(spec.att === null ? [] : [{ type: 'access-tech-type' as const, value: spec.att ?? 4 }]),
    ...(spec.ts === null ? [] : [{ type: 'timestamp' as const, ...timestampFromMs(spec.ts ?? at) }]),
    ...(spec.llId === null ? [] : [{ type: 'mn-ll-id' as const, id: parseMac(spec.llId ?? MAC) }]),
    ...(spec.lla !== undefined ? [{ type: 'link-local-address' as const, address: parsePrefix(`${spec.lla}/128`).prefix }] : []),
  ]
  return {
    kind: 'binding-update',
    sequence: spec.seq ?? 1,
    flags: { ...PBU_FLAGS, p: spec.p ?? true, a: spec.a ?? true },
    lifetime: spec.lifetime ?? 3600,
    options,
  }
}

export function pbuBytes(spec: PbuSpec, at: number): Buffer {
  return mh.encode(pbuMsg(spec, at))
}

/** Sends a PBU from `from` to the LMA at time `at` and returns the commands. */
export function sendPbu(core: LmaCore, at: number, spec: PbuSpec = {}, from = MAG1): LmaCommand[] {
  return core.step({ type: 'mh', at, from, to: LMA, data: pbuBytes(spec, at) })
}

export type SendCmd = Extract<LmaCommand, { type: 'send' }>

export function sends(cmds: readonly LmaCommand[]): SendCmd[] {
  return cmds.filter((c): c is SendCmd => c.type === 'send')
}

/** The one PBA among the commands, decoded from its bytes (so the encoding is checked too). */
export function pbaOf(cmds: readonly LmaCommand[]): BindingAck {
  const s = sends(cmds)
  if (s.length !== 1) throw new Error(`expected one send, got ${s.length}: ${JSON.stringify(cmds.map((c) => c.type))}`)
  const m: MhMessage = mh.decode(s[0]!.bytes)
  if (m.kind !== 'binding-ack') throw new Error(`expected a PBA, got ${m.kind}`)
  return m
}

export function statusOf(cmds: readonly LmaCommand[]): number {
  return pbaOf(cmds).status
}

export function ofType<T extends LmaCommand['type']>(cmds: readonly LmaCommand[], type: T): Extract<LmaCommand, { type: T }>[] {
  return cmds.filter((c): c is Extract<LmaCommand, { type: T }> => c.type === type)
}

export function hnpsOf(m: { options: readonly MobilityOption[] }): string[] {
  return m.options.filter((o): o is Extract<MobilityOption, { type: 'hnp' }> => o.type === 'hnp').map((o) => formatPrefix(o.prefix, o.prefixLength))
}

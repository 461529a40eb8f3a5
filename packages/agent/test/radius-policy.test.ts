// The RADIUS policy source's logic (radius/aaa.ts) against small RADIUS servers on loopback
// (our codec on the server side; the e2e test uses the real FreeRADIUS): one request per MN,
// the cache, Reject -> denied, unreachable -> held and asked again with backoff, failover,
// forged answers dropped, reload, detach while pending, the pending bound, file fallback.
import { createSocket, type Socket } from 'node:dgram'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AttachedFact } from '@pmip6/driver-api'
import type { PolicyProfile, UnknownMnPolicy } from '@pmip6/core'
import { AaaPolicy, type AaaHost } from '../src/radius/aaa'
import { decode, encodeResponse, octets, text, verifyAccessRequest, type RadiusAttribute, type RadiusPacket } from '../src/radius/codec'
import type { RadiusPolicyConfig } from '../src/radius/types'
import { systemClock } from '../src/timers'

const SECRET = 'testing123'
const dir = mkdtempSync(join(tmpdir(), 'mag-radius-'))
const secretFile = join(dir, 'secret')
writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 })
const hex = (s: string): Buffer => Buffer.from(s, 'hex')
const LMA = octets(147, hex('20010db8ffff00000000000000000002'))
const HNP = octets(151, hex('004020010db801000077'))

type Answer = { code: number; attrs: RadiusAttribute[]; secret?: string } | null
class FakeServer {
  readonly sock: Socket = createSocket('udp4')
  seen: RadiusPacket[] = []
  constructor(public answer: (p: RadiusPacket) => Answer) {
    this.sock.on('message', (m, r) => {
      const p = decode(m)
      expect(verifyAccessRequest(m, Buffer.from(SECRET))).toBe('ok')
      this.seen.push(p)
      const a = this.answer(p)
      if (a) this.sock.send(encodeResponse(a.code, p.identifier, p.authenticator, a.attrs, Buffer.from(a.secret ?? SECRET)), r.port, r.address)
    })
  }
  async start(): Promise<number> {
    await new Promise<void>((res) => this.sock.bind(0, '127.0.0.1', () => res()))
    return this.sock.address().port
  }
  close(): void {
    this.sock.close()
  }
}

/** Requests, not datagrams: a retransmission repeats the Request Authenticator. */
const requests = (s: FakeServer): number => new Set(s.seen.map((p) => p.authenticator.toString('hex'))).size
const accept = (): Answer => ({ code: 2, attrs: [LMA, HNP] })

class Host implements AaaHost {
  admitted: AttachedFact[] = []
  profiles: PolicyProfile[][] = []
  bound = new Set<string>()
  admit(_d: string, f: AttachedFact): void {
    this.admitted.push(f)
  }
  setProfiles(p: readonly PolicyProfile[], _u: UnknownMnPolicy): void {
    this.profiles.push([...p])
  }
  hasBinding(mnId: string): boolean {
    return this.bound.has(mnId)
  }
}

const until = async (what: string, f: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

const cfgFor = (ports: number[], over: Partial<RadiusPolicyConfig> = {}): RadiusPolicyConfig => ({
  servers: ports.map((port) => ({ address: '127.0.0.1', port, secretFile })),
  timeoutMs: 100,
  retries: 1,
  deadTimeMs: 10_000,
  cacheTtlS: 3600,
  retryInitialMs: 100,
  retryMaxMs: 400,
  maxPending: 100,
  userPassword: 'none',
  requireMessageAuthenticator: true,
  addressConfig: 'stateless',
  ...over,
})

const log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined }
const fact = (mnId: string, link = 'mn1'): AttachedFact => ({ type: 'attached', link, mnId, mac: '02:00:00:00:01:01', att: 4 })

/** status() keeps its held counts as entries change (issue 23: no walk); they must match a walk of the views. */
function countsMatchViews(aaa: AaaPolicy): { pending: number; unreachable: number; denied: number } {
  const { pending, unreachable, denied } = aaa.status()
  const v = aaa.views()
  expect(denied).toBe(v.filter((x) => x.state === 'denied').length)
  expect(pending).toBe(v.filter((x) => x.reason === 'aaa-pending').length)
  expect(unreachable).toBe(v.filter((x) => x.reason === 'aaa-unreachable').length)
  return { pending, unreachable, denied }
}

const servers: FakeServer[] = []
const policies: AaaPolicy[] = []
async function setup(answers: ((p: RadiusPacket) => Answer)[], over: Partial<RadiusPolicyConfig> = {}, source: 'radius' | 'radius-then-file' = 'radius', file: PolicyProfile[] = []) {
  const s = answers.map((a) => new FakeServer(a))
  servers.push(...s)
  const ports = await Promise.all(s.map((x) => x.start()))
  const host = new Host()
  const aaa = new AaaPolicy(source, cfgFor(ports, over), file, 'refuse', '2001:db8:ffff::1', host, log, systemClock)
  policies.push(aaa)
  return { s, host, aaa }
}

afterEach(() => {
  for (const p of policies.splice(0)) p.stop()
  for (const s of servers.splice(0)) s.close()
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test('cold attach: one Access-Request with the MN, MAC, NAS-Port-Type and NAS-IPv6-Address; the profile goes to the store before the attach', async () => {
  const { s, host, aaa } = await setup([accept], { timeoutMs: 2000 })
  aaa.attached('mock', fact('mn1@example.org'), 0)
  aaa.attached('mock', fact('mn1@example.org'), 0) // while the request is out: waits for it
  expect(aaa.views()).toMatchObject([{ mnId: 'mn1@example.org', state: 'held', reason: 'aaa-pending' }])
  await until('admitted', () => host.admitted.length === 1)
  expect(requests(s[0]!)).toBe(1)
  const attrs = s[0]!.seen[0]!.attributes
  const get = (t: number) => attrs.find((a) => a.type === t)?.value
  expect(get(1)?.toString()).toBe('mn1@example.org')
  expect(get(31)?.toString()).toBe('02-00-00-00-01-01')
  expect(get(61)?.readUInt32BE(0)).toBe(19)
  expect(get(95)?.toString('hex')).toBe('20010db8ffff00000000000000000001')
  expect(host.profiles).toEqual([[{ mnId: 'mn1@example.org', lma: '2001:db8:ffff::2', homePrefixes: ['2001:db8:100:77::/64'], addressConfig: 'stateless', mode: 'network' }]])
  expect(aaa.views()).toEqual([])
  // Cached: admitted at once, no request.
  aaa.attached('mock', fact('mn1@example.org', 'mn2'), 0)
  expect(host.admitted).toHaveLength(2)
  expect(requests(s[0]!)).toBe(1)
  expect(aaa.counters.get('cache-hit')).toBe(1)
  // A reload drops the cache: the next attach asks again.
  aaa.reload([], 'refuse')
  aaa.attached('mock', fact('mn1@example.org'), 0)
  await until('asked again', () => requests(s[0]!) === 2)
})

test('Access-Reject: denied with the Reply-Message; a malformed Accept: denied naming the attribute', async () => {
  const { host, aaa } = await setup([(p) => (p.attributes[0]!.value.toString() === 'bad@x' ? { code: 3, attrs: [text(18, 'subscriber barred')] } : { code: 2, attrs: [HNP] })])
  aaa.attached('mock', fact('bad@x'), 0)
  aaa.attached('mock', fact('nolma@x', 'mn2'), 0)
  expect(countsMatchViews(aaa)).toEqual({ pending: 2, unreachable: 0, denied: 0 })
  await until('both denied', () => aaa.views().filter((v) => v.state === 'denied').length === 2)
  expect(countsMatchViews(aaa)).toEqual({ pending: 0, unreachable: 0, denied: 2 })
  const r = Object.fromEntries(aaa.views().map((v) => [v.mnId, v.reason]))
  expect(r['bad@x']).toBe('aaa-reject: subscriber barred')
  expect(r['nolma@x']).toMatch(/^aaa-bad-accept: PMIP6-Home-LMA-IPv6-Address: missing/)
  expect(host.admitted).toEqual([])
  // A detach forgets a denied MN.
  aaa.detached({ type: 'detached', link: 'mn1', mnId: 'bad@x', cause: 'left' })
  expect(aaa.views().map((v) => v.mnId)).toEqual(['nolma@x'])
  expect(countsMatchViews(aaa)).toEqual({ pending: 0, unreachable: 0, denied: 1 })
})

test('no server answers: held aaa-unreachable and asked again with backoff until one does', async () => {
  let up = false
  const { s, host, aaa } = await setup([() => (up ? accept() : null)])
  aaa.attached('mock', fact('mn1@example.org'), 0)
  await until('unreachable', () => aaa.views()[0]?.reason === 'aaa-unreachable', 3000)
  expect(aaa.views()[0]!.state).toBe('held')
  expect(countsMatchViews(aaa)).toEqual({ pending: 0, unreachable: 1, denied: 0 })
  const firstRound = s[0]!.seen.length
  expect(firstRound).toBe(2) // the first send and one retransmission, same Identifier
  expect(new Set(s[0]!.seen.map((p) => p.identifier)).size).toBe(1)
  up = true
  await until('admitted after recovery', () => host.admitted.length === 1, 5000)
  expect(countsMatchViews(aaa)).toEqual({ pending: 0, unreachable: 0, denied: 0 })
  expect(aaa.status().servers[0]!.timeouts).toBeGreaterThanOrEqual(1)
  expect(aaa.counters.get('unreachable')).toBeGreaterThanOrEqual(1)
})

test('failover: the first server is silent, the second answers; the first is passed over next time', async () => {
  const { s, host, aaa } = await setup([() => null, accept])
  aaa.attached('mock', fact('a@x'), 0)
  await until('admitted', () => host.admitted.length === 1, 3000)
  aaa.attached('mock', fact('b@x', 'mn2'), 0)
  await until('admitted', () => host.admitted.length === 2, 3000)
  expect(requests(s[0]!)).toBe(1) // a@x only: b@x went straight to the live server
  expect(requests(s[1]!)).toBe(2)
  const [first, second] = aaa.status().servers
  expect(first).toMatchObject({ state: 'down', timeouts: 1 })
  expect(second).toMatchObject({ state: 'up', answers: { 'access-accept': 2 } })
})

test('an answer signed with another secret is counted and dropped; the request still gets its real answer', async () => {
  let n = 0
  const { s, host, aaa } = await setup([() => (n++ === 0 ? { code: 2, attrs: [LMA], secret: 'forged' } : accept())])
  aaa.attached('mock', fact('mn1@example.org'), 0)
  await until('admitted', () => host.admitted.length === 1, 3000)
  expect(s[0]!.seen).toHaveLength(2) // the forged answer did not end the request: the retransmission got the real one
  expect(aaa.status().servers[0]!.dropped).toEqual({ 'bad-authenticator': 1 })
  expect(host.profiles[0]![0]!.homePrefixes).toEqual(['2001:db8:100:77::/64'])
})

test('detached while the request is out: forgotten, the late answer is ignored', async () => {
  const { s, host, aaa } = await setup([() => null], { timeoutMs: 300, retries: 0 })
  aaa.attached('mock', fact('mn1@example.org'), 0)
  await until('asked', () => s[0]!.seen.length === 1)
  aaa.detached({ type: 'detached', link: 'mn1', mnId: 'mn1@example.org', cause: 'left' })
  expect(aaa.views()).toEqual([])
  await until('the request timed out', () => aaa.status().servers[0]!.timeouts === 1, 3000)
  expect(host.admitted).toEqual([])
  expect(aaa.counters.get('answer-for-gone-mn')).toBe(1)
})

test('at most maxPending MNs wait; more attaches are refused and counted', async () => {
  const { aaa } = await setup([() => null], { maxPending: 2, timeoutMs: 1000 })
  for (const m of ['a', 'b', 'c']) aaa.attached('mock', fact(`${m}@x`, m), 0)
  expect(aaa.views()).toHaveLength(2)
  expect(countsMatchViews(aaa)).toEqual({ pending: 2, unreachable: 0, denied: 0 })
  expect(aaa.counters.get('refused-overload')).toBe(1)
})

test('radius-then-file: with no server answering, an MN with a file profile is served from the file', async () => {
  const file: PolicyProfile[] = [{ mnId: 'mn1@example.org', lma: '2001:db8:ffff::2' }]
  const { host, aaa } = await setup([() => null], {}, 'radius-then-file', file)
  expect(aaa.coreProfiles().profiles).toEqual(file)
  aaa.attached('mock', fact('mn1@example.org'), 0)
  aaa.attached('mock', fact('other@x', 'mn2'), 0)
  await until('fallback', () => host.admitted.length === 1, 3000)
  expect(host.admitted[0]!.mnId).toBe('mn1@example.org')
  expect(aaa.counters.get('fallback-file')).toBe(1)
  await until('other held', () => aaa.views()[0]?.reason === 'aaa-unreachable', 3000)
})

test("an MN's cached profile by MN-ID (`mag bindings` rows, Accounting's Class): server and seconds left; two keys for one MN; gone when the last is dropped", async () => {
  // RADIUS names both asked identities one MN (Mobile-Node-Identifier, RFC 6572 §3).
  const { s, host, aaa } = await setup([() => ({ code: 2, attrs: [LMA, HNP, text(145, 'mn9@example.org')] })])
  const server = `127.0.0.1:${s[0]!.sock.address().port}`
  expect(aaa.cachedProfile('mn9@example.org')).toBeUndefined()
  aaa.attached('mock', fact('a@example.org'), 0)
  await until('admitted', () => host.admitted.length === 1)
  aaa.attached('mock', fact('b@example.org', 'mn2'), 0)
  await until('admitted', () => host.admitted.length === 2)
  expect(host.admitted.map((f) => f.mnId)).toEqual(['mn9@example.org', 'mn9@example.org'])
  const c = aaa.cachedProfile('mn9@example.org')
  expect(c).toMatchObject({ server, expiresInS: 3600, profile: { mnId: 'mn9@example.org', profile: { lma: '2001:db8:ffff::2' } } })
  expect(aaa.profileOf('mn9@example.org')).toBe(c!.profile)
  // Asked under another key than its MN-ID: nothing under the key.
  expect(aaa.cachedProfile('a@example.org')).toBeUndefined()
  // One key dropped, the other still holds the MN (and its profile stays in the core's store).
  const stores = host.profiles.length
  expect(aaa.dropProfile('a@example.org')).toBe(true)
  expect(aaa.cachedProfile('mn9@example.org')).toMatchObject({ server })
  expect(host.profiles).toHaveLength(stores)
  // The last key dropped: gone, and released from the store (no binding).
  expect(aaa.dropProfile('b@example.org')).toBe(true)
  expect(aaa.cachedProfile('mn9@example.org')).toBeUndefined()
  expect(aaa.profileOf('mn9@example.org')).toBeUndefined()
  expect(host.profiles.at(-1)).toEqual([])
})

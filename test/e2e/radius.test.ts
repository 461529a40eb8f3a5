// End to end with a real FreeRADIUS (issue 22): Debian's freeradius 3.2 in its own namespace,
// a generated config whose users file carries the RFC 6572 attributes (dictionary.rfc6572),
// the MAG asking it for each MN's profile, the lab LMA registering the MN with the prefix
// RADIUS gave, and the MN's own kernel configuring an address from it. Then: a rejected MN, an
// Accept without an LMA, a forged answer (a hostile server ahead of FreeRADIUS in the list),
// Disconnect and CoA requests from radclient (RFC 5176), a wrong secret, accounting answered by
// FreeRADIUS, `mag reload` dropping the cache, and FreeRADIUS killed and restarted. tshark
// decodes the RADIUS exchange independently.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { FreeRadius, haveFreeRadius, NsLab, waitUntil, within, writeFreeRadiusConfig, type Daemon } from '@pmip6/testkit'
import { Capture } from './lab-harness'
import { haveTshark } from '../interop/tshark'

/** A wait on the daemons or FreeRADIUS: a full run at load 10 outran 20 s (an LMA de-registration). */
const LOADED_MS = 90_000

const ROOT = join(__dirname, '../..')
const P = `ra${process.pid % 100000}`
const DIR = `/run/mag-test/${P}`
const AAA_NS = `${P}-aaa`
const MAG_AAA = '2001:db8:aaa::1'
const RADIUS = '2001:db8:aaa::2'
const SECRET = 'testing123'
const FORGER_PORT = 1815
const mnId = (i: number): string => `mn${i}@example.org`

const USERS = `${mnId(1)}  Auth-Type := Accept
	PMIP6-Home-LMA-IPv6-Address = 2001:db8:ffff::2,
	PMIP6-Home-HN-Prefix = 2001:db8:100:77::/64,
	PMIP6-Home-Interface-ID = 0:0:0:1,
	PMIP6-Home-IPv4-HoA = 192.0.2.7/32,
	PMIP6-Home-DHCP6-Server-Address = 2001:db8:aaa::53,
	Session-Timeout = 3600
${mnId(2)}  Auth-Type := Reject
	Reply-Message = "subscriber barred"
${mnId(3)}  Auth-Type := Accept
	PMIP6-Home-LMA-IPv6-Address = 2001:db8:ffff::2,
	PMIP6-Home-HN-Prefix = 2001:db8:100:78::/64
${mnId(4)}  Auth-Type := Accept
	PMIP6-Home-LMA-IPv6-Address = 2001:db8:ffff::2,
	PMIP6-Home-HN-Prefix = 2001:db8:100:79::/64
${mnId(5)}  Auth-Type := Accept
	PMIP6-Home-HN-Prefix = 2001:db8:100:7a::/64
DEFAULT  Auth-Type := Reject
	Reply-Message = "unknown subscriber"
`

function prereqs(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, raw sockets)'
  const fr = haveFreeRadius()
  if (fr) return fr
  if (!haveTshark()) return 'tshark is missing'
  for (const f of ['packages/cli/dist/main.js', 'packages/rawsock/build/Release/rawsock.node', 'packages/agent/dist/radius/codec.js']) if (!existsSync(join(ROOT, f))) return `the project is not built (${f}): npm ci && npm run build`
  return null
}

function describeE2e(title: string, body: () => void): void {
  const why = prereqs()
  if (why === null) return describe(title, body)
  if (process.env['CI'] === 'true') {
    test(`${title}: prerequisites`, () => {
      throw new Error(`${why}; CI=true, so this is a failure, not a skip`)
    })
    return
  }
  console.warn(`SKIPPED ${title}: ${why}`)
  describe.skip(title, body)
}

interface Row {
  mnId: string
  link: string
  state: string
  reason: string
  prefixes: string[]
  aaa?: { server: string; interfaceId: string | null; ipv4HomeAddress: string | null; dhcp6Servers: string[] }
}
interface ServerView {
  server: string
  kind: string
  state: string
  requests: number
  timeouts: number
  answers: Record<string, number>
  dropped: Record<string, number>
}

const sh = (cmd: string, args: readonly string[], input?: string, timeoutMs = 20_000) => {
  const r = spawnSync(cmd, [...args], { encoding: 'utf8', timeout: timeoutMs, ...(input !== undefined ? { input } : {}) })
  return { code: r.status ?? -1, out: (r.stdout ?? '') + (r.stderr ?? '') }
}
const must = (cmd: string, ...args: string[]): void => {
  const r = sh(cmd, args)
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.out}`)
}

describeE2e('RADIUS policy source end to end (real FreeRADIUS 3.2, RFC 6572, RFC 5176)', () => {
  let lab: NsLab | null = null
  let lma: Daemon
  let mag: Daemon
  let radius: FreeRadius
  let forger: ChildProcess | null = null
  const secretFile = join(DIR, 'secret')

  const rows = async (): Promise<Row[]> => (await mag.request({ cmd: 'bindings' }))['result'] as Row[]
  const row = async (i: number): Promise<Row | undefined> => (await rows()).find((b) => b.mnId === mnId(i))
  const status = async () => (await mag.request({ cmd: 'status' }))['result'] as { counters: Record<string, number>; aaa: { servers: ServerView[]; accounting?: ServerView[]; cached: number } }
  const counter = async (k: string): Promise<number> => (await status()).counters[k] ?? 0
  const lmaBindings = async () => (await lma.request({ cmd: 'bindings' }))['bindings'] as { mnId: string; state: string; prefixes: string[] }[]
  const attach = async (i: number): Promise<void> => {
    const r = await mag.request({ cmd: 'attach', link: `mn${i}`, mn: mnId(i), mac: NsLab.mnMac(i), att: 'wifi' })
    if (r['ok'] !== true) throw new Error(`attach mn${i}: ${JSON.stringify(r)}`)
  }
  const detach = async (i: number): Promise<void> => {
    const r = await mag.request({ cmd: 'detach', mn: mnId(i) })
    if (r['ok'] !== true) throw new Error(`detach mn${i}: ${JSON.stringify(r)}`)
  }
  const registered = (i: number) => waitUntil(`mn${i} registered`, async () => ((await row(i))?.state === 'registered' ? (await row(i))! : null), 60_000, 100)
  /** radclient in the AAA namespace, as the RADIUS server's side would send it (RFC 5176). */
  const radclient = (kind: 'disconnect' | 'coa', attrs: string, secret = SECRET) =>
    sh('ip', ['netns', 'exec', AAA_NS, 'radclient', '-x', '-r', '1', '-t', '3', `[${MAG_AAA}]:3799`, kind, secret], attrs, 30_000)

  beforeAll(async () => {
    mkdirSync(DIR, { recursive: true, mode: 0o700 })
    writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 })
    lab = NsLab.create({ prefix: P, mns: 5, access: { kind: 'per-mn', name: (i) => `mn${i}` }, stateDir: join(DIR, 'lab') })
    // The AAA side: its own namespace, a veth to the MAG (named after our prefix: NsLab.down removes it).
    must('ip', 'netns', 'add', AAA_NS)
    must('ip', '-n', AAA_NS, 'link', 'set', 'lo', 'up')
    const a = `ra${process.pid % 100000}a`
    const b = `ra${process.pid % 100000}b`
    must('ip', 'link', 'add', a, 'type', 'veth', 'peer', 'name', b)
    must('ip', 'link', 'set', a, 'netns', lab.ns.mag, 'name', 'aaa0')
    must('ip', 'link', 'set', b, 'netns', AAA_NS, 'name', 'eth0')
    must('ip', '-n', lab.ns.mag, 'addr', 'add', `${MAG_AAA}/64`, 'dev', 'aaa0', 'nodad')
    must('ip', '-n', AAA_NS, 'addr', 'add', `${RADIUS}/64`, 'dev', 'eth0', 'nodad')
    must('ip', '-n', lab.ns.mag, 'link', 'set', 'aaa0', 'up')
    must('ip', '-n', AAA_NS, 'link', 'set', 'eth0', 'up')

    const opts = { dir: join(DIR, 'raddb'), listen: RADIUS, clients: [{ address: MAG_AAA, secret: SECRET }], users: USERS }
    writeFreeRadiusConfig(opts)
    radius = new FreeRadius(AAA_NS, opts)
    await radius.start()
    const flog = openSync(join(DIR, 'forger.log'), 'a')
    forger = spawn('ip', ['netns', 'exec', AAA_NS, process.execPath, join(__dirname, 'fixtures/radius-forger.js'), RADIUS, String(FORGER_PORT)], { stdio: ['ignore', flog, flog] })
    closeSync(flog)
    await waitUntil('forger ready', () => readFileSync(join(DIR, 'forger.log'), 'utf8').includes('forger ready'), 20_000, 50)

    lma = await lab.startLma({ mns: { [mnId(1)]: { prefixes: ['2001:db8:100:77::/64'] }, [mnId(3)]: { prefixes: ['2001:db8:100:78::/64'] }, [mnId(4)]: { prefixes: ['2001:db8:100:79::/64'] } }, acceptUnknown: true })
    const server = (port: number) => ({ address: RADIUS, port, secretFile })
    const cfg = lab.magConfig(
      {
        drivers: { mock: {} },
        policy: {
          source: 'radius',
          radius: {
            // The forger first: its answers are dropped, it times out, FreeRADIUS takes over.
            servers: [server(FORGER_PORT), server(1812)],
            timeoutMs: 1000, // FreeRADIUS -X on a loaded machine: room enough that it never looks dead
            retries: 1,
            deadTimeMs: 600_000,
            retryInitialMs: 500,
            retryMaxMs: 2000,
            nasIdentifier: 'mag1',
            accounting: { servers: [server(1813)] },
            das: { listen: `[${MAG_AAA}]:3799`, clients: [{ address: RADIUS, secretFile }] },
          },
        },
      },
      [],
    )
    mag = await lab.startMag(cfg)
  }, 240_000) // namespaces, FreeRADIUS and two daemons start slowly on a loaded machine

  afterAll(async () => {
    if (forger && forger.exitCode === null) {
      const exited = new Promise<void>((r) => forger!.once('exit', () => r()))
      forger.kill('SIGKILL')
      await within(exited, 3000)
    }
    await radius?.stop('SIGKILL')
    await lab?.down()
    spawnSync('rm', ['-rf', DIR])
  }, 60_000)

  test('an MN whose profile is only in RADIUS attaches and gets the prefix RADIUS gave; the forged answer is dropped; accounting Start is answered', async () => {
    const cap = await Capture.startSynced(lab!.ns.mag, 'aaa0', 'udp')
    try {
      await attach(1)
      const b = await registered(1)
      expect(b.prefixes).toEqual(['2001:db8:100:77::/64'])
      expect(b.aaa).toMatchObject({ server: `[${RADIUS}]:1812`, interfaceId: '0000:0000:0000:0001', ipv4HomeAddress: '192.0.2.7/32', dhcp6Servers: ['2001:db8:aaa::53'] })
      expect((await lmaBindings()).find((x) => x.mnId === mnId(1))?.prefixes).toEqual(['2001:db8:100:77::/64'])
      // The MN's own kernel configures an address from the prefix RADIUS gave.
      await waitUntil('a SLAAC address from 2001:db8:100:77::/64 on mn1', () => lab!.mnGlobals(1).find((x) => x.startsWith('2001:db8:100:77:')), 30_000, 200)
      const s = await status()
      const forgerView = s.aaa.servers.find((v) => v.server.endsWith(`:${FORGER_PORT}`))!
      expect(forgerView.dropped['bad-authenticator']).toBeGreaterThanOrEqual(1)
      expect(forgerView.timeouts).toBeGreaterThanOrEqual(1)
      expect(forgerView.answers).toEqual({})
      expect(s.aaa.servers.find((v) => v.server.endsWith(':1812'))).toMatchObject({ state: 'up', answers: { 'access-accept': 1 } })
      await waitUntil('accounting Start answered by FreeRADIUS', async () => (await counter('accounting.start.answered')) === 1, LOADED_MS)

      // tshark, the independent decoder: what went to FreeRADIUS and what came back.
      const pkts = (await cap.stopSynced()).filter((p) => p.v('radius.code') !== undefined)
      const req = pkts.find((p) => p.v('radius.code') === '1' && p.v('udp.dstport') === '1812')
      const acc = pkts.find((p) => p.v('radius.code') === '2' && p.v('udp.srcport') === '1812')
      if (!req || !acc) throw new Error(`no Access-Request/Accept with FreeRADIUS in ${pkts.length} RADIUS packets`)
      expect(req.v('radius.User_Name')).toBe(mnId(1))
      expect(req.v('radius.Calling_Station_Id')).toBe('02-00-00-00-01-01')
      expect(req.v('radius.NAS_IPv6_Address')).toBe('2001:db8:ffff::1')
      expect(req.v('radius.NAS_Identifier')).toBe('mag1')
      expect(req.v('radius.NAS_Port_Type')).toBe('19')
      expect(req.v('radius.Message_Authenticator')).toBeDefined()
      expect(acc.v('radius.id')).toBe(req.v('radius.id'))
      expect(acc.v('radius.Message_Authenticator')).toBeDefined()
      expect(pkts.some((p) => p.v('radius.code') === '4' && p.v('radius.Acct_Status_Type') === '1')).toBe(true)
    } finally {
      cap.kill()
    }
  }, 240_000)

  test('Access-Reject denies the MN with the Reply-Message; an Accept without an LMA denies naming the attribute', async () => {
    await attach(2)
    await attach(5)
    const r2 = await waitUntil('mn2 denied', async () => ((await row(2))?.state === 'denied' ? (await row(2))! : null), 30_000)
    expect(r2.reason).toBe('aaa-reject: subscriber barred')
    const r5 = await waitUntil('mn5 denied', async () => ((await row(5))?.state === 'denied' ? (await row(5))! : null), 30_000)
    expect(r5.reason).toMatch(/^aaa-bad-accept: PMIP6-Home-LMA-IPv6-Address: missing/)
    const lb = await lmaBindings()
    expect(lb.some((x) => x.mnId === mnId(2) || x.mnId === mnId(5))).toBe(false)
    // The text table says the same to an operator.
    const out = sh(process.execPath, [join(ROOT, 'packages/cli/bin/mag.js'), 'bindings', '--socket', mag.socket]).out
    expect(out).toMatch(new RegExp(`${mnId(2)}\\s+mn2\\s+denied.*aaa-reject: subscriber barred`))
    await detach(2)
    await detach(5)
    await waitUntil('denied MNs forgotten after their detach', async () => !(await rows()).some((x) => x.mnId === mnId(2) || x.mnId === mnId(5)), LOADED_MS)
  }, 400_000)

  test('RFC 5176: Disconnect-Request from radclient detaches the MN; a wrong secret is dropped; an unknown session is NAKed; CoA drops the cached profile', async () => {
    await attach(3)
    await registered(3)
    const bad = radclient('disconnect', `User-Name = "${mnId(3)}"\n`, 'wrong-secret')
    expect(bad.out).not.toMatch(/Disconnect-ACK/)
    expect(await counter('das.dropped.bad-authenticator')).toBe(1)
    expect((await row(3))?.state).toBe('registered')

    const ack = radclient('disconnect', `User-Name = "${mnId(3)}"\nNAS-IPv6-Address = 2001:db8:ffff::1\n`)
    expect(ack.out).toMatch(/Received Disconnect-ACK/)
    await waitUntil('mn3 gone from the MAG', async () => !(await rows()).some((x) => x.mnId === mnId(3)), LOADED_MS)
    await waitUntil('mn3 de-registered at the LMA', async () => !(await lmaBindings()).some((x) => x.mnId === mnId(3) && x.state === 'active'), LOADED_MS)
    await waitUntil('accounting Stop answered', async () => (await counter('accounting.stop.answered')) >= 1, LOADED_MS)

    const nak = radclient('disconnect', 'User-Name = "nobody@example.org"\n')
    expect(nak.out).toMatch(/Received Disconnect-NAK/)
    expect(nak.out).toMatch(/Error-Cause = Session-Context-Not-Found/)
    const other = radclient('disconnect', `User-Name = "${mnId(1)}"\nNAS-Identifier = "another-nas"\n`)
    expect(other.out).toMatch(/Error-Cause = NAS-Identification-Mismatch/)
    expect((await row(1))?.state).toBe('registered')

    const dropped = await counter('aaa.profile-dropped') // the Disconnect dropped mn3's
    const coa = radclient('coa', `User-Name = "${mnId(1)}"\n`)
    expect(coa.out).toMatch(/Received CoA-ACK/)
    expect(await counter('aaa.profile-dropped')).toBe(dropped + 1)
    // The binding stays; the next attach asks RADIUS again.
    expect((await row(1))?.state).toBe('registered')
  }, 400_000)

  test('mag reload drops the cache: the next attach asks RADIUS again', async () => {
    await attach(4)
    await registered(4)
    const asked = await counter('aaa.requests')
    await detach(4)
    await waitUntil('mn4 gone', async () => !(await rows()).some((x) => x.mnId === mnId(4)), LOADED_MS)
    await attach(4) // cached: no request
    await registered(4)
    expect(await counter('aaa.requests')).toBe(asked)
    expect(await counter('aaa.cache-hit')).toBeGreaterThanOrEqual(1)
    const r = await mag.request({ cmd: 'reload' })
    expect(r['ok']).toBe(true)
    expect(await counter('aaa.cache-flushed')).toBeGreaterThanOrEqual(1)
    await detach(4)
    await waitUntil('mn4 gone', async () => !(await rows()).some((x) => x.mnId === mnId(4)), LOADED_MS)
    await attach(4)
    await registered(4)
    expect(await counter('aaa.requests')).toBe(asked + 1)
  }, 400_000)

  test('FreeRADIUS killed: an attaching MN is held aaa-unreachable (the daemon stays up); FreeRADIUS restarted: the MN registers', async () => {
    await detach(4)
    await waitUntil('mn4 gone', async () => !(await rows()).some((x) => x.mnId === mnId(4)), LOADED_MS)
    await mag.request({ cmd: 'reload' }) // no cached profile for mn4
    await radius.stop('SIGKILL')
    await attach(4)
    const held = await waitUntil('mn4 held aaa-unreachable', async () => ((await row(4))?.reason === 'aaa-unreachable' ? (await row(4))! : null), 60_000)
    expect(held.state).toBe('held')
    expect(mag.alive).toBe(true)
    // Asked again with backoff while it is down; no answer, no binding.
    const before = await counter('aaa.requests')
    await waitUntil('asked again while down', async () => (await counter('aaa.requests')) > before, 30_000)
    expect((await lmaBindings()).some((x) => x.mnId === mnId(4) && x.state === 'active')).toBe(false)
    await radius.start()
    const b = await registered(4)
    expect(b.prefixes).toEqual(['2001:db8:100:79::/64'])
    expect(await counter('aaa.unreachable')).toBeGreaterThanOrEqual(1)
  }, 180_000)
})

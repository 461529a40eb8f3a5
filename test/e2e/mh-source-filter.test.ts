// Issue 17 item 1 in the netns lab: an MN on its access link sends Proxy Binding
// Acknowledgements with the LMA's source address, one for every sequence number there is, while
// its registration waits for the LMA; and a host on the transport side that is not an LMA of
// ours does the same. The packets are built in Python from raw bytes (fixtures/forge-mh.py), not
// by our encoder; tshark shows what reached the MAG. Before the fix the MAG took one and gave
// the MN the prefix it chose; now every one is counted as mh.rx.dropped.<reason> and dropped.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describeLab, labName, mag, nsRun, waitFor, labUp, LAB_HOOK_TIMEOUT_MS, TSHARK_START_TIMEOUT_MS, labDown, LAB_DOWN_HOOK_TIMEOUT_MS, labBindings, labStatus } from './lab-harness'

const LAB = labName('e17f')
const NS = { mag1: `${LAB}-mag1`, mn1: `${LAB}-mn1`, cn: `${LAB}-cn` }
const MAG1 = '2001:db8:ffff::1'
const LMA = '2001:db8:ffff::2'
const CN = '2001:db8:cccc::2'
const MN = 'mn1@example.com'
const MN_MAC = '02:00:00:00:01:01'
const MAG_MAC = '02:00:00:00:00:fe' // the lab's fixed link-layer address on every access link
const FORGED = '2001:db8:666::' // the prefix the attacker wants
const FORGE = join(__dirname, 'fixtures/forge-mh.py')
const SEQ_SPACE = 65_536 // RFC 6275 §6.1.7: 16-bit sequence numbers

interface View {
  mnId: string
  state: string
  prefixes: string[]
}
const ctl = (...a: string[]) => mag(['lab', 'ctl', '--name', LAB, 'mag1', '--', ...a])
const counters = async (): Promise<Record<string, number>> => (await labStatus(LAB)).counters
const binding = async (): Promise<View | undefined> => (await labBindings<View>(LAB)).find((b) => b.mnId === MN)
const fault = (...a: string[]) => {
  const r = mag(['lab', 'fault', '--name', LAB, ...a])
  if (r.code !== 0) throw new Error(`mag lab fault ${a.join(' ')}: ${r.err}`)
}
const metrics = (): string => {
  const r = ctl('status', '--json')
  return r.out
}

/** Counters once `key` has not moved for a second (bounded). */
async function settled(key: string): Promise<Record<string, number>> {
  let last = -1
  let since = Date.now()
  return waitFor(`${key} to settle`, async () => {
    const c = await counters()
    const v = c[key] ?? 0
    if (v !== last) {
      last = v
      since = Date.now()
      return null
    }
    return Date.now() - since >= 1000 ? c : null
  }, 60_000, 200)
}

function forge(ns: string, args: string[]): number {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'python3', FORGE, ...args], { encoding: 'utf8', timeout: 120_000 })
  if (r.status !== 0) throw new Error(`forge-mh.py ${args[0]}: ${r.stderr}`)
  return Number(r.stdout.trim())
}

/** tshark writing a pcap in a namespace; `fields()` reads it back field by field (fast for large captures). */
class Tap {
  private readonly dir = mkdtempSync(join(tmpdir(), 'mag-e17f-'))
  private child: ChildProcess | null = null
  readonly file = join(this.dir, 'cap.pcap')

  async start(ns: string, iface: string, filter: string): Promise<void> {
    const child = spawn('ip', ['netns', 'exec', ns, 'tshark', '-n', '-q', '-B', '64', '-i', iface, '-f', filter, '-w', this.file], { stdio: ['ignore', 'ignore', 'pipe'] })
    this.child = child
    let err = ''
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c))
    await waitFor(`tshark on ${ns}/${iface}`, () => {
      if (child.exitCode !== null) throw new Error(`tshark exited: ${err}`)
      return err.includes('Capturing on')
    }, TSHARK_START_TIMEOUT_MS, 50)
  }

  async stop(): Promise<void> {
    const c = this.child
    if (!c || c.exitCode !== null) return
    const exited = new Promise<void>((r) => c.once('exit', () => r()))
    c.kill('SIGINT')
    let t: NodeJS.Timeout | undefined
    await Promise.race([exited, new Promise<void>((r) => (t = setTimeout(r, 10_000)))])
    clearTimeout(t)
    if (c.exitCode === null) c.kill('SIGKILL')
  }

  /** One row per packet: the values of `names` (comma-joined when a field repeats). */
  fields(names: string[]): string[][] {
    const out = spawnSync('tshark', ['-n', '-r', this.file, '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=,', ...names.flatMap((n) => ['-e', n])], {
      encoding: 'utf8',
      timeout: 120_000,
      maxBuffer: 256 << 20,
    })
    if (out.status !== 0) throw new Error(`tshark -r: ${out.stderr}`)
    return out.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t'))
  }

  remove(): void {
    if (this.child && this.child.exitCode === null) this.child.kill('SIGKILL')
    rmSync(this.dir, { recursive: true, force: true })
  }
}

describeLab('issue 17 item 1: the MAG takes Mobility Headers only from the transport side and its LMAs', () => {
  jest.setTimeout(240_000)

  beforeAll(() => {
    labUp(LAB, ['--mns', '1'])
  }, LAB_HOOK_TIMEOUT_MS)

  afterAll(async () => {
    await labDown(LAB)
  }, LAB_DOWN_HOOK_TIMEOUT_MS)

  test('RFC 5213 §4: forged PBAs from the access link, LMA source, all 65,536 sequence numbers: none taken, each counted', async () => {
    // The LMA swallows PBUs: the MN's registration stays outstanding for the attacker to hit.
    fault('--drop', 'all')
    const a = ctl('attach', '--mn', MN, '--link', 'mn1', '--mac', MN_MAC, '--att', 'wifi')
    if (a.code !== 0) throw new Error(`attach: ${a.err}`)
    await waitFor('the registration outstanding', async () => (await binding())?.state === 'registering')
    const before = await counters()
    const tap = new Tap()
    try {
      await tap.start(NS.mag1, 'mn1', 'ip6 proto 135 or (icmp6 and ip6[40] == 134)')
      expect(forge(NS.mn1, ['pba-l2', 'eth0', MN_MAC, MAG_MAC, LMA, MAG1, MN, FORGED, '0', String(SEQ_SPACE)])).toBe(SEQ_SPACE)
      const c = await settled('mh.rx')
      await tap.stop()
      const d = (k: string): number => (c[k] ?? 0) - (before[k] ?? 0)
      // The binding did not move: no forged prefix (before the fix: registered with it).
      const b = await binding()
      expect(b?.prefixes ?? []).toEqual([])
      expect(b?.state).toBe('registering')
      // Each forged PBA that reached the daemon was dropped for where it came from, before any
      // decoding; besides them only the LMA's own signalling (a heartbeat, say) came in.
      expect(d('mh.rx.dropped.access-link')).toBeGreaterThan(SEQ_SPACE * 0.9)
      expect(d('mh.rx.dropped.access-link')).toBeLessThanOrEqual(SEQ_SPACE)
      expect(d('mh.rx') - d('mh.rx.dropped.access-link')).toBeLessThanOrEqual(5)
      expect(d('core.pba-received')).toBe(0)
      // tshark: what arrived on the MAG's access link were PBAs from the LMA's address.
      const rows = tap.fields(['ipv6.src', 'ipv6.dst', 'mip6.mhtype', 'mip6.ba.p_flag', 'mip6.ba.seqnr', 'icmpv6.type', 'icmpv6.opt.prefix'])
      const pbas = rows.filter((r) => r[2] === '6')
      expect(pbas.length).toBeGreaterThan(SEQ_SPACE * 0.9)
      for (const r of pbas.slice(0, 100)) expect(r.slice(0, 4)).toEqual([LMA, MAG1, '6', '1'])
      expect(new Set(pbas.map((r) => r[4])).size).toBe(pbas.length)
      const ras = rows.filter((r) => r[5] === '134')
      for (const r of ras) expect(r[6] ?? '').not.toContain('2001:db8:666')
    } finally {
      await tap.stop()
      tap.remove()
    }
    // The MN has no address in the forged prefix.
    const addrs = nsRun(NS.mn1, ['ip', '-6', '-o', 'addr', 'show', 'dev', 'eth0']).out
    expect(addrs).not.toContain('2001:db8:666:')
    expect(metrics()).toContain('"mh.rx.dropped.access-link"')

    // The real LMA answers again: the MN registers with a prefix from the LMA's pool.
    fault('--clear')
    const ok = await waitFor('registration with the LMA', async () => {
      const v = await binding()
      return v?.state === 'registered' ? v : null
    }, 90_000, 250)
    expect(ok.prefixes.some((p) => p.startsWith('2001:db8:100:'))).toBe(true)
  })

  test('from a host on the transport side that is not an LMA of ours: PBAs and heartbeats dropped as unknown-peer, the binding untouched', async () => {
    fault('--clear')
    await waitFor('mn1 registered', async () => (await binding())?.state === 'registered', 90_000, 250)
    const held = (await binding())!.prefixes
    const before = await counters()
    const tap = new Tap()
    try {
      await tap.start(NS.mag1, 'up0', `ip6 and host ${CN}`)
      expect(forge(NS.cn, ['pba-l3', CN, MAG1, MN, FORGED, '0', String(SEQ_SPACE)])).toBe(SEQ_SPACE)
      // A Heartbeat request (RFC 5847 §3.1): an unknown host gets no response.
      expect(forge(NS.cn, ['raw-l3', CN, MAG1, '3b010d0000000000' + '0000000101040000', '10'])).toBe(10)
      const c = await settled('mh.rx')
      await tap.stop()
      const d = (k: string): number => (c[k] ?? 0) - (before[k] ?? 0)
      expect(d('mh.rx.dropped.unknown-peer')).toBeGreaterThan(SEQ_SPACE * 0.9)
      expect(d('core.pba-received')).toBe(0)
      const rows = tap.fields(['ipv6.src', 'mip6.mhtype', 'ipv6.dst'])
      // Nothing went back to the stranger: no heartbeat response, no error.
      expect(rows.filter((r) => r[2] === CN)).toEqual([])
      expect(rows.filter((r) => r[0] === CN && r[1] === '6').length).toBeGreaterThan(SEQ_SPACE * 0.9)
      expect(rows.filter((r) => r[0] === CN && r[1] === '13').length).toBe(10)
    } finally {
      await tap.stop()
      tap.remove()
    }
    const b = await binding()
    expect(b?.state).toBe('registered')
    expect(b?.prefixes).toEqual(held)
  })
})

// Hostile and broken input against the running daemon in the netns lab (issue 9): every
// packet is counted and dropped, the daemon stays up and keeps serving its MNs.
import { randomBytes } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { connect } from 'node:net'
import { Capture, describeLab, labName, mag, magJson, RAW_SEND, waitFor, LAB_HOOK_TIMEOUT_MS, labUp, labDown, LAB_DOWN_HOOK_TIMEOUT_MS, labBindings, labStatus } from './lab-harness'

const LAB = labName('e9h')
const MAG1 = '2001:db8:ffff::1'
const SOCK = `/run/mag-lab/${LAB}/mag1.sock`
const MN = 'mn1@example.com'

interface Status {
  counters: Record<string, number>
}
const status = (): Promise<Status> => labStatus<Status>(LAB)
const bound = async (): Promise<boolean> => (await labBindings(LAB)).some((b) => b.mnId === MN && b.state === 'registered')
const alive = (): boolean => magJson<{ nodes: Record<string, { running?: boolean }> }>(['lab', 'status', '--name', LAB, '--json']).nodes['mag1']?.running === true

/** Counters once `key` has stopped growing for half a second (bounded). */
async function settled(key: string): Promise<Record<string, number>> {
  let last = -1
  let since = Date.now()
  return waitFor(`${key} settled`, async () => {
    const c = (await status()).counters
    const v = c[key] ?? 0
    if (v !== last) {
      last = v
      since = Date.now()
      return null
    }
    return Date.now() - since >= 500 ? c : null
  }, 30_000, 100)
}

/** Sends packets (hex, one per line) from a lab namespace through the raw-send fixture. */
function flood(ns: string, kind: 'mh' | 'icmp6', dst: string, packets: string[], iface?: string, hop?: number): number {
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, RAW_SEND, kind, dst, '-', ...(iface ? [iface, String(hop ?? 255)] : [])], { input: packets.join('\n') + '\n', encoding: 'utf8', timeout: 60_000 })
  if (r.status !== 0) throw new Error(`raw-send: ${r.stderr}`)
  return Number(r.stdout.trim())
}

/** A valid-length MH (so the kernel's own checks pass) with random content after the header. */
function randomMh(): string {
  const units = 1 + Math.floor(Math.random() * 4) // 16..40 octets
  const b = randomBytes((units + 1) * 8)
  b[0] = 59 // no next header
  b[1] = units
  b[2] = [6, 6, 6, 7, 16, 1 + Math.floor(Math.random() * 20)][Math.floor(Math.random() * 6)]! // mostly BA
  b.writeUInt16BE(0, 4) // the kernel fills the checksum
  return b.toString('hex')
}

describeLab('hostile input to the MAG daemon', () => {
  jest.setTimeout(240_000) // tshark alone takes 10+ s to start on a loaded machine

  beforeAll(() => {
    labUp(LAB, ['--mns', '1'])
    const a = mag(['lab', 'ctl', '--name', LAB, 'mag1', '--', 'attach', '--mn', MN, '--link', 'mn1', '--mac', '02:00:00:00:01:01'])
    if (a.code !== 0) throw new Error(`attach: ${a.err}`)
  }, LAB_HOOK_TIMEOUT_MS)

  afterAll(async () => {
    await labDown(LAB)
  }, LAB_DOWN_HOOK_TIMEOUT_MS)

  test('3,000 random Mobility Headers from the LMA side: counted, dropped, the binding untouched', async () => {
    await waitFor('mn1 registered', bound)
    const before = (await status()).counters
    const sent = flood(`${LAB}-lma`, 'mh', MAG1, Array.from({ length: 3000 }, randomMh))
    expect(sent).toBe(3000)
    const c = await settled('mh.rx')
    const delta = (k: string): number => (c[k] ?? 0) - (before[k] ?? 0)
    // Every one of them went somewhere that is counted: malformed, not a PBA, a PBA the core
    // ignored, a Heartbeat the core matched or dropped (RFC 5847), or a Binding Error the core
    // read (RFC 5847 §3: status 2 says the LMA has no heartbeat support).
    const accounted =
      delta('mh.malformed') +
      Object.keys(c).filter((k) => k.startsWith('mh.drop.')).reduce((n, k) => n + delta(k), 0) +
      delta('core.pba-received') +
      delta('core.heartbeat-received') +
      delta('core.binding-error-received')
    expect(accounted).toBe(delta('mh.rx'))
    // The kernel's own MH checks (RFC 6275 §9.2) may discard a few before they reach us.
    expect(delta('mh.rx')).toBeGreaterThan(2700)
    expect(delta('mh.malformed')).toBeGreaterThan(0)
    expect(delta('core.binding-accepted')).toBe(0)
    expect(alive()).toBe(true)
    expect(await bound()).toBe(true)
  })

  test('a PBA from a spoofed source for the MN is ignored (RFC 5213 §6.9.1.2 item 5)', async () => {
    const before = (await status()).counters
    // Status 152 (PROXY_REG_NOT_ENABLED) with the MN's identifier, from the CN instead of the LMA.
    const nai = Buffer.from(MN)
    const opt = Buffer.concat([Buffer.from([8, nai.length + 1, 1]), nai])
    const body = Buffer.concat([Buffer.from([152, 0x20, 0, 0, 0, 0]), opt])
    const len = 6 + body.length
    const pad = (8 - (len % 8)) % 8
    const msg = Buffer.concat([Buffer.from([59, (len + pad) / 8 - 1, 6, 0, 0, 0]), body, pad >= 2 ? Buffer.from([1, pad - 2, ...Array(pad - 2).fill(0)]) : Buffer.alloc(pad)])
    expect(flood(`${LAB}-cn`, 'mh', MAG1, [msg.toString('hex')])).toBe(1)
    // Not an LMA of this MAG: dropped before it is even decoded (issue 17 item 1).
    await waitFor('PBA dropped', async () => ((await status()).counters['mh.rx.dropped.unknown-peer'] ?? 0) > (before['mh.rx.dropped.unknown-peer'] ?? 0))
    const c = (await status()).counters
    expect((c['core.pba-received'] ?? 0) - (before['core.pba-received'] ?? 0)).toBe(0)
    expect(await bound()).toBe(true)
  })

  test('an RS flood gets rate-limited RAs (RFC 4861 §6.2.6), and hop limits other than 255 are dropped', async () => {
    const cap = await Capture.startSynced(`${LAB}-mag1`, 'mn1', 'icmp6 and ip6[40] == 134')
    try {
      const before = (await status()).counters
      const rs = '8500000000000000' + '0101020000000101' // RS with the MN's source link-layer address
      const t0 = Date.now()
      expect(flood(`${LAB}-mn1`, 'icmp6', 'ff02::2', Array(2000).fill(rs), 'eth0', 255)).toBe(2000)
      expect(flood(`${LAB}-mn1`, 'icmp6', 'ff02::2', Array(100).fill(rs), 'eth0', 64)).toBe(100)
      // The 100 hop-limit-64 RSs went last on the same socket: once all are counted, so is the rest.
      const c = await waitFor('the last 100 RSs counted', async () => {
        const now = (await status()).counters
        return (now['core.rs-dropped:hop-limit'] ?? 0) - (before['core.rs-dropped:hop-limit'] ?? 0) >= 100 ? now : null
      }, 30_000)
      // Ours, plus any the MN's own kernel sends meanwhile.
      expect((c['core.rs-received'] ?? 0) - (before['core.rs-received'] ?? 0)).toBeGreaterThanOrEqual(2100)
      expect((c['core.rs-dropped:hop-limit'] ?? 0) - (before['core.rs-dropped:hop-limit'] ?? 0)).toBe(100)
      const elapsed = Date.now() - t0
      const ras = (await cap.stopSynced()).filter((p) => p.v('icmpv6.type') === '134')
      // One solicited RA per MIN_DELAY_BETWEEN_RAS (3 s), plus any scheduled initial RA.
      expect(ras.length).toBeLessThanOrEqual(2 + Math.ceil(elapsed / 3000))
      expect(alive()).toBe(true)
    } finally {
      cap.kill()
    }
  })

  test('2,000 garbage control requests: each answered with an error, none crashes the daemon', async () => {
    const lines: string[] = []
    for (let i = 0; i < 2000; i++) {
      const k = i % 4
      lines.push(k === 0 ? 'x' + randomBytes(1 + (i % 200)).toString('latin1').replace(/\n/g, ' ') : k === 1 ? JSON.stringify({ cmd: `nope${i}` }) : k === 2 ? JSON.stringify({ cmd: 'attach', mn: i, link: {} }) : '[1,2,3]')
    }
    const replies = await new Promise<string[]>((resolve, reject) => {
      const s = connect(SOCK)
      let buf = ''
      const t = setTimeout(() => {
        s.destroy()
        reject(new Error(`only ${buf.split('\n').length - 1} replies`))
      }, 30_000)
      s.on('connect', () => s.end(lines.join('\n') + '\n'))
      s.on('data', (d) => (buf += d.toString()))
      s.on('close', () => {
        clearTimeout(t)
        resolve(buf.split('\n').filter(Boolean))
      })
      s.on('error', reject)
    })
    expect(replies.length).toBe(2000)
    for (const r of replies) expect((JSON.parse(r) as { ok: boolean }).ok).toBe(false)
    expect(alive()).toBe(true)
    expect((await status()).counters['control.badRequests']).toBeGreaterThanOrEqual(2000)
    expect(await bound()).toBe(true)
  })
})

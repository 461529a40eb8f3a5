// RFC 5213 §4: MAG-LMA signalling under IPsec ESP, in a kernel that has ESP for IPv6
// (User-Mode Linux). `mag ipsec-config` writes the swanctl.conf of both ends; one charon runs
// in the MAG's namespace and one in the LMA's, each in a mount namespace of its own (own /run,
// own vici socket). Both authentication modes: pre-shared keys, and certificates (a CA and one
// certificate per end, made here with openssl, the address as subjectAltName). Checked: the
// IKEv2 SA comes up on the MAG's first PBU, PBU and PBA travel as ESP only (no plaintext
// Mobility Header on the wire), refreshes (a short lifetime) travel over the SA, a plaintext
// PBA forged on the wire toward the MAG is dropped by the kernel's policy before the agent
// sees it, either charon restarted is survived (the MAG retransmits until new SAs are up), and
// de-registration works. tshark dissects the first exchange and the forged PBAs; the other
// checks read the outer Next Header from the capture (a tshark start-up costs a minute or more
// under UML on a busy host).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NsLab, type Daemon } from '@pmip6/testkit'
import { BaStatus, MN_ID_SUBTYPE_NAI, PBA_FLAGS, mh } from '@pmip6/wire'
import { Capture, nsExec, saveArtifacts, sh, waitFor } from './helpers'

const DIR = (p: string) => `/run/mag-test/${p}`
const MAG_JS = join(__dirname, '../../packages/cli/bin/mag.js')
const CHARON = '/usr/lib/ipsec/charon'
const MAG = '2001:db8:ffff::1'
const LMA = '2001:db8:ffff::2'
const MN = 'mn1@example.org'
/** Binding lifetime the MAG asks for: short, so refreshes happen within a test (RFC 5213 §6.9.1.3). */
const LIFETIME_S = 12
/** Dead peer detection interval written by `mag ipsec-config --dpd-delay` (default 30 s). */
const DPD_DELAY_S = 3

jest.setTimeout(600_000)

interface Swan {
  readonly ns: string
  readonly dir: string
  proc: ChildProcess | null
}
const env = (s: Swan) => ({ ...process.env, STRONGSWAN_CONF: join(s.dir, 'strongswan.conf') })
const vici = (s: Swan) => `unix://${join(s.dir, 'charon.vici')}`
const swanctl = (s: Swan, ...a: string[]) => spawnSync('ip', ['netns', 'exec', s.ns, 'swanctl', ...a, '-u', vici(s)], { encoding: 'utf8', env: env(s), timeout: 60_000 })

/** A charon in `ns`, in its own mount namespace (its pid file goes to a /run of its own). */
async function startCharon(s: Swan): Promise<void> {
  // bypass-lan would install pass policies for directly connected subnets: MAG and LMA share
  // one, and the signalling would silently stay in plain text. Retransmissions are shortened
  // (1 s, 1.4 s, 2 s) so DPD declares a restarted peer dead within a test's time.
  writeFileSync(
    join(s.dir, 'strongswan.conf'),
    `charon {\n  install_routes = no\n  retransmit_timeout = 1\n  retransmit_base = 1.4\n  retransmit_tries = 2\n  filelog {\n    log { path = ${join(s.dir, 'charon.log')}\n      append = yes\n      default = 1\n      ike = 2\n      cfg = 2\n    }\n  }\n  plugins {\n    vici { socket = ${vici(s)} }\n    bypass-lan { load = no }\n  }\n}\n`,
  )
  // A socket file the previous charon (restart tests) left would pass the check below at once.
  rmSync(join(s.dir, 'charon.vici'), { force: true })
  const proc = spawn('ip', ['netns', 'exec', s.ns, 'unshare', '--mount', 'sh', '-c', `mount -t tmpfs tmpfs /run && exec ${CHARON}`], { env: env(s), stdio: 'ignore' })
  s.proc = proc
  await waitFor(`charon in ${s.ns}`, () => {
    if (proc.exitCode !== null) throw new Error(`charon in ${s.ns} exited (${proc.exitCode}); see charon.log`)
    // swanctl is two execs here, each costing the charon that is starting on the guest's one CPU:
    // asked only once the vici socket is there (a stat).
    return existsSync(join(s.dir, 'charon.vici')) && swanctl(s, '--stats').status === 0
  }, 60_000, 100)
}
/** Stops charon as a service manager would (SIGTERM: it removes its SAs and policies), bounded. */
async function stopCharon(s: Swan): Promise<void> {
  const p = s.proc
  if (p === null || p.exitCode !== null || p.signalCode !== null) return
  const exited = new Promise<void>((r) => p.once('exit', () => r()))
  p.kill('SIGTERM')
  let t: NodeJS.Timeout | undefined
  await Promise.race([exited, new Promise<void>((r) => (t = setTimeout(r, 20_000)))])
  clearTimeout(t)
  if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
}
/** Loads a file of mag ipsec-config as the charon's swanctl.conf: swanctl reads credentials (x509/, pkcs8/...) beside it. */
function load(s: Swan, file: string): void {
  const conf = join(s.dir, 'swanctl', 'swanctl.conf')
  copyFileSync(file, conf)
  const r = swanctl(s, '--load-all', '--file', conf)
  if (r.status !== 0 || !/successfully loaded 1 connection/.test(r.stdout)) throw new Error(`swanctl --load-all in ${s.ns}: ${r.stdout}${r.stderr}`)
}

/**
 * A CA and a certificate for each end (ECDSA P-256, the address as subjectAltName, which is
 * what `id = <address>` in mag ipsec-config's output is matched against), in each charon's
 * swanctl folders: x509ca/ the CA, x509/ its own certificate, pkcs8/ its key.
 */
function makeCerts(dir: string, ends: readonly { swan: Swan; address: string }[]): void {
  const ca = join(dir, 'ca')
  mkdirSync(ca, { recursive: true })
  const lines = [
    'set -e',
    `cd ${ca}`,
    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -noenc -keyout ca.key -out ca.pem -days 2 -subj '/CN=pmip6 kernel-tier CA' -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null",
  ]
  for (const e of ends) {
    const d = join(e.swan.dir, 'swanctl')
    lines.push(
      `mkdir -p ${d}/x509ca ${d}/x509 ${d}/pkcs8`,
      `cp ca.pem ${d}/x509ca/ca.pem`,
      `openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -noenc -keyout ${d}/pkcs8/self.key -out ${d}/self.csr -subj '/CN=${e.address}' -addext 'subjectAltName=IP:${e.address}' 2>/dev/null`,
      `openssl x509 -req -in ${d}/self.csr -CA ca.pem -CAkey ca.key -CAcreateserial -copy_extensions copyall -days 2 -out ${d}/x509/self.pem 2>/dev/null`,
    )
  }
  const r = sh(lines.join('\n'), 120_000)
  if (r.code !== 0) throw new Error(`openssl: ${r.err}${r.out}`)
}

/** Packets the kernel's ESP SAs in a namespace have carried (both directions), from `ip -s xfrm state`. */
function espPackets(ns: string): number {
  return [...nsExec(ns, ['ip', '-s', 'xfrm', 'state']).out.matchAll(/(\d+)\(packets\)/g)].reduce((n, m) => n + Number(m[1]), 0)
}
/** /proc/net/xfrm_stat of a namespace (XfrmInTmplMismatch: a packet a policy wanted protected came in plain). */
function xfrmStat(ns: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const line of nsExec(ns, ['cat', '/proc/net/xfrm_stat']).out.split('\n')) {
    const [k, v] = line.trim().split(/\s+/)
    if (k && v) out[k] = Number(v)
  }
  return out
}
function macOf(ns: string, dev: string): string {
  return (JSON.parse(nsExec(ns, ['ip', '-j', 'link', 'show', 'dev', dev]).out) as { address: string }[])[0]!.address
}

/**
 * A PBA for `mnId` (status: administratively prohibited, which would end the binding if taken),
 * LMA -> MAG in plain text, sent `count` times as raw Ethernet frames on the LMA's side of the
 * link: below the LMA's own IPsec policy, as an attacker on the link would send it.
 */
function forgePba(labNs: { lma: string; mag: string }, mnId: string, count: number): void {
  const body = mh.encode({ kind: 'binding-ack', status: BaStatus.ADMINISTRATIVELY_PROHIBITED, flags: PBA_FLAGS, sequence: 1, lifetime: 0, options: [{ type: 'mn-id', subtype: MN_ID_SUBTYPE_NAI, id: Buffer.from(mnId) }] })
  const py = `
import socket, struct, sys
def a(x): return socket.inet_pton(socket.AF_INET6, x)
src, dst, m = a(sys.argv[1]), a(sys.argv[2]), bytearray(bytes.fromhex(sys.argv[3]))
m[4:6] = b'\\0\\0'
ph = src + dst + struct.pack('!I3xB', len(m), 135) + bytes(m)
if len(ph) % 2: ph += b'\\0'
s = sum(struct.unpack('!%dH' % (len(ph) // 2), ph))
while s >> 16: s = (s & 0xffff) + (s >> 16)
m[4:6] = struct.pack('!H', ~s & 0xffff)
ip6 = struct.pack('!IHBB', 0x60000000, len(m), 135, 64) + src + dst
eth = bytes.fromhex(sys.argv[4].replace(':', '')) + bytes.fromhex(sys.argv[5].replace(':', '')) + b'\\x86\\xdd'
sk = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sk.bind(('t0', 0))
for _ in range(int(sys.argv[6])): sk.send(eth + ip6 + bytes(m))
`
  const r = spawnSync('ip', ['netns', 'exec', labNs.lma, 'python3', '-c', py, LMA, MAG, body.toString('hex'), macOf(labNs.mag, 'up0'), macOf(labNs.lma, 't0'), String(count)], { encoding: 'utf8', timeout: 30_000 })
  if (r.status !== 0) throw new Error(`forged PBA: ${r.stderr}`)
}

describe.each(['psk', 'pubkey'] as const)('mag ipsec-config (%s) with real charons', (auth) => {
  const P = auth === 'psk' ? 'ktsp' : 'ktsk'
  const dir = DIR(P)
  let lab: NsLab
  let lma: Daemon
  let mag: Daemon
  let magSwan: Swan
  let lmaSwan: Swan
  const swans: Swan[] = []
  const magConf = () => join(dir, 'mag.conf')
  const lmaConf = () => join(dir, `lma-${LMA.replace(/:/g, '_')}.conf`)
  const magBindings = async () => (await mag.request({ cmd: 'bindings' }))['result'] as { mnId: string; state: string }[]
  const lmaBinding = async () => ((await lma.request({ cmd: 'bindings' }))['bindings'] as { mnId: string; state: string; updatedAt: number }[]).find((b) => b.mnId === MN)
  const counters = async () => ((await mag.request({ cmd: 'status' }))['result'] as { counters: Record<string, number> }).counters
  const magRegistered = async () => (await magBindings()).some((b) => b.mnId === MN && b.state === 'registered')
  /** A refresh the LMA accepted after `since` (its binding's updatedAt moved past it). */
  const refreshedAfter = (since: number, what: string) =>
    waitFor(what, async () => {
      const b = await lmaBinding()
      return b !== undefined && b.state === 'active' && b.updatedAt > since
    }, 120_000, 250)

  beforeAll(async () => {
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    lab = NsLab.create({ prefix: P, mns: 1, access: { kind: 'per-mn', name: (i) => `mn${i}` }, stateDir: join(dir, 'lab'), readyTimeoutMs: 120_000 })
    // Not under /run: each charon mounts a /run of its own, and swanctl must see its socket.
    const swanDir = mkdtempSync(join(tmpdir(), `${P}-`))
    magSwan = { ns: lab.ns.mag, dir: join(swanDir, 'mag'), proc: null }
    lmaSwan = { ns: lab.ns.lma, dir: join(swanDir, 'lma'), proc: null }
    swans.push(magSwan, lmaSwan)
    for (const s of swans) mkdirSync(join(s.dir, 'swanctl'), { recursive: true })
    if (auth === 'pubkey') makeCerts(swanDir, [{ swan: magSwan, address: MAG }, { swan: lmaSwan, address: LMA }])
    // The timestamp window covers a busy single-CPU guest (see ip6tnl-lab.ktest.ts).
    lma = await lab.startLma({ timestampWindowMs: 10_000 })
    const magCfg = lab.magConfig({ drivers: { mock: { att: 4 } }, mag: { lifetime: LIFETIME_S } })
    writeFileSync(join(dir, 'mag-for-ipsec.json'), JSON.stringify(magCfg))
    const gen = spawnSync(process.execPath, [MAG_JS, 'ipsec-config', '--config', join(dir, 'mag-for-ipsec.json'), '--auth', auth, '--dpd-delay', String(DPD_DELAY_S), '--out', `${dir}/`], { encoding: 'utf8', timeout: 60_000 })
    if (gen.status !== 0) throw new Error(`mag ipsec-config: ${gen.stderr}`)
    await Promise.all([startCharon(magSwan), startCharon(lmaSwan)])
    load(magSwan, magConf())
    load(lmaSwan, lmaConf())
    mag = await lab.startMag(magCfg)
  }, 1_200_000)

  afterAll(async () => {
    for (const s of swans.splice(0)) {
      s.proc?.kill('SIGKILL')
      try {
        writeFileSync(join(dir, 'lab', `charon-${s.ns}.log`), readFileSync(join(s.dir, 'charon.log')))
      } catch {
        // no log
      }
      rmSync(s.dir, { recursive: true, force: true })
    }
    saveArtifacts(`ipsec-${auth}`, join(dir, 'lab'))
    await lab?.down()
    rmSync(dir, { recursive: true, force: true })
  })

  test(`§4 ${auth}: the IKEv2 SA comes up on the first PBU; PBU and PBA travel as ESP only (no plaintext MH on the wire); the MN registers`, async () => {
    // Synced (a marker at both ends): dumpcap says 'Capturing on' before the interface is open.
    const cap = await Capture.startSynced(lab.ns.lma, 't0', 'ip6 and not icmp6')
    await mag.request({ cmd: 'attach', mn: MN, link: 'mn1', mac: NsLab.mnMac(1), att: 'wifi', hint: 'new' })
    await waitFor('the MAG binding registered', magRegistered, 90_000, 250)
    const sas = swanctl(magSwan, '--list-sas').stdout
    expect(sas).toMatch(/ESTABLISHED/)
    expect(sas).toMatch(/pmip6-mh: #\d+, reqid \d+, INSTALLED, TRANSPORT, ESP/)
    if (auth === 'pubkey') expect(swanctl(lmaSwan, '--list-sas').stdout).toMatch(/remote '2001:db8:ffff::1' @/)
    const pkts = await cap.stopSynced()
    const nxt = pkts.map((p) => p.all('ipv6.nxt')[0])
    expect(nxt.filter((n) => n === '135')).toEqual([])
    expect(nxt.filter((n) => n === '50').length).toBeGreaterThanOrEqual(2)
  })

  test(`§4 ${auth}: refreshes (lifetime ${LIFETIME_S} s) travel over the SA`, async () => {
    // Synced at both ends (markers): an unsynced capture missed refreshes at its start or stop.
    const cap = await Capture.startSynced(lab.ns.lma, 't0', 'ip6 and not icmp6')
    const esp = espPackets(lab.ns.lma)
    const refreshes = (await counters())['core.pbu-sent:refresh'] ?? 0
    const b0 = (await lmaBinding())!
    // Two refreshes accepted by the LMA.
    await refreshedAfter(b0.updatedAt, 'a first refresh')
    const t1 = (await lmaBinding())!.updatedAt
    await refreshedAfter(t1, 'a second refresh')
    expect((await counters())['core.pbu-sent:refresh']).toBeGreaterThanOrEqual(refreshes + 2)
    expect(espPackets(lab.ns.lma)).toBeGreaterThanOrEqual(esp + 4)
    await cap.sync()
    const nxt = await cap.stopNextHeaders()
    expect(nxt.filter((n) => n === 135)).toEqual([])
    expect(nxt.filter((n) => n === 50).length).toBeGreaterThanOrEqual(4)
    expect(await magRegistered()).toBe(true)
  })

  test(`§4 ${auth}: a plaintext PBA forged on the link toward the MAG is dropped by the kernel's policy (counted in xfrm_stat); the agent never sees it and the binding stays`, async () => {
    // Synced: on a quiet machine the three were sent before dumpcap had opened the interface.
    const cap = await Capture.startSynced(lab.ns.mag, 'up0', 'ip6 proto 135')
    const x0 = xfrmStat(lab.ns.mag)['XfrmInTmplMismatch'] ?? 0
    const c0 = await counters()
    forgePba(lab.ns, MN, 3)
    await waitFor('the kernel to drop the three forged PBAs', () => (xfrmStat(lab.ns.mag)['XfrmInTmplMismatch'] ?? 0) >= x0 + 3, 30_000, 200)
    // They reached the MAG's interface in plain text...
    const pkts = await cap.stopSynced()
    expect(pkts.filter((p) => p.v('ipv6.src') === LMA && p.v('mip6.mhtype') === '6')).toHaveLength(3)
    // ...and never the agent: nothing dropped or refused there, the binding is still registered
    // and the LMA still accepts its refreshes.
    const c1 = await counters()
    for (const k of ['core.pba-dropped', 'mh.rx.dropped', 'core.registration-failed', 'core.denied']) expect(c1[k] ?? 0).toBe(c0[k] ?? 0)
    expect(await magRegistered()).toBe(true)
    await refreshedAfter((await lmaBinding())!.updatedAt, 'a refresh after the forged PBAs')
    expect(await magRegistered()).toBe(true)
  })

  test.each(['MAG', 'LMA'] as const)(`§4 ${auth}: the %s's charon restarted: new SAs are negotiated on the next PBU, the registration carries over (MAG retransmissions)`, async (side) => {
    const s = side === 'MAG' ? magSwan : lmaSwan
    await stopCharon(s)
    await startCharon(s)
    load(s, side === 'MAG' ? magConf() : lmaConf())
    const restarted = Date.now()
    // The LMA's clock is this VM's: a refresh it accepted after the restart moved updatedAt past it.
    await refreshedAfter(restarted, `a refresh accepted after the ${side}'s charon restarted`)
    await waitFor('the MAG binding registered', magRegistered, 60_000, 250)
    expect(swanctl(magSwan, '--list-sas').stdout).toMatch(/pmip6-mh: #\d+, reqid \d+, INSTALLED, TRANSPORT, ESP/)
    expect(swanctl(lmaSwan, '--list-sas').stdout).toMatch(/pmip6-mh: #\d+, reqid \d+, INSTALLED, TRANSPORT, ESP/)
    // Still ESP only: the LMA's new SAs carry the next refresh (its PBU in, its PBA out, counted by
    // the kernel as the de-registration test does), and no plaintext MH crosses the link.
    const cap = await Capture.start(lab.ns.lma, 't0', 'ip6 and not icmp6')
    const esp = espPackets(lab.ns.lma)
    await refreshedAfter((await lmaBinding())!.updatedAt, 'one more refresh')
    expect(espPackets(lab.ns.lma)).toBeGreaterThanOrEqual(esp + 2)
    expect((await cap.stopNextHeaders()).filter((n) => n === 135)).toEqual([])
  })

  test(`§4 ${auth}: de-registration travels over the SA too`, async () => {
    const cap = await Capture.start(lab.ns.lma, 't0', 'ip6 and not icmp6')
    const before = espPackets(lab.ns.lma)
    await mag.request({ cmd: 'detach', mn: MN })
    await waitFor('the LMA binding de-registered', async () => (await lmaBinding())?.state !== 'active', 60_000, 250)
    // The LMA's SAs carried the de-registration PBU (in) and its PBA (out).
    expect(espPackets(lab.ns.lma)).toBeGreaterThanOrEqual(before + 2)
    expect((await cap.stopNextHeaders()).filter((n) => n === 135)).toEqual([])
  })
})

// RFC 5213 §4: MAG-LMA signalling under IPsec ESP, in a kernel that has ESP for IPv6
// (User-Mode Linux). `mag ipsec-config` writes the swanctl.conf of both ends; one charon runs
// in the MAG's namespace and one in the LMA's, each in a mount namespace of its own (own /run,
// own vici socket). Checked: the IKEv2 SA comes up on the MAG's first PBU, PBU and PBA travel
// as ESP only (no plaintext Mobility Header on the wire), registration and de-registration work.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NsLab, type Daemon } from '@pmip6/testkit'
import { Capture, nsExec, saveArtifacts, waitFor } from './helpers'

const P = 'ktsec'
const DIR = `/run/mag-test/${P}`
const MAG_JS = join(__dirname, '../../packages/cli/bin/mag.js')
const CHARON = '/usr/lib/ipsec/charon'
const LMA = '2001:db8:ffff::2'
const MN = 'mn1@example.org'

jest.setTimeout(240_000)

interface Swan {
  readonly ns: string
  readonly dir: string
  proc: ChildProcess | null
}
const swans: Swan[] = []
const env = (s: Swan) => ({ ...process.env, STRONGSWAN_CONF: join(s.dir, 'strongswan.conf') })
const vici = (s: Swan) => `unix://${join(s.dir, 'charon.vici')}`
const swanctl = (s: Swan, ...a: string[]) => spawnSync('ip', ['netns', 'exec', s.ns, 'swanctl', ...a, '-u', vici(s)], { encoding: 'utf8', env: env(s), timeout: 60_000 })

/** A charon in `ns`, in its own mount namespace (its pid file goes to a /run of its own). */
async function startCharon(s: Swan): Promise<void> {
  // bypass-lan would install pass policies for directly connected subnets: MAG and LMA share
  // one, and the signalling would silently stay in plain text.
  writeFileSync(
    join(s.dir, 'strongswan.conf'),
    `charon {\n  install_routes = no\n  filelog {\n    log { path = ${join(s.dir, 'charon.log')}\n      default = 1\n      ike = 2\n    }\n  }\n  plugins {\n    vici { socket = ${vici(s)} }\n    bypass-lan { load = no }\n  }\n}\n`,
  )
  s.proc = spawn('ip', ['netns', 'exec', s.ns, 'unshare', '--mount', 'sh', '-c', `mount -t tmpfs tmpfs /run && exec ${CHARON}`], { env: env(s), stdio: 'ignore' })
  await waitFor(`charon in ${s.ns}`, () => swanctl(s, '--stats').status === 0, 60_000, 250)
}
function load(s: Swan, file: string): void {
  const r = swanctl(s, '--load-all', '--file', file)
  if (r.status !== 0 || !/successfully loaded 1 connection/.test(r.stdout)) throw new Error(`swanctl --load-all in ${s.ns}: ${r.stdout}${r.stderr}`)
}

/** Packets the kernel's ESP SAs in a namespace have carried (both directions), from `ip -s xfrm state`. */
function espPackets(ns: string): number {
  return [...nsExec(ns, ['ip', '-s', 'xfrm', 'state']).out.matchAll(/(\d+)\(packets\)/g)].reduce((n, m) => n + Number(m[1]), 0)
}

describe.each(['psk'] as const)('mag ipsec-config (%s) with real charons', (auth) => {
  let lab: NsLab
  let lma: Daemon
  let mag: Daemon
  let magSwan: Swan
  let lmaSwan: Swan
  const magBindings = async () => (await mag.request({ cmd: 'bindings' }))['result'] as { mnId: string; state: string }[]
  const lmaBindings = async () => (await lma.request({ cmd: 'bindings' }))['bindings'] as { mnId: string; state: string }[]

  beforeAll(async () => {
    rmSync(DIR, { recursive: true, force: true })
    mkdirSync(DIR, { recursive: true, mode: 0o700 })
    lab = NsLab.create({ prefix: P, mns: 1, access: { kind: 'per-mn', name: (i) => `mn${i}` }, stateDir: join(DIR, 'lab'), readyTimeoutMs: 120_000 })
    // Not under /run: each charon mounts a /run of its own, and swanctl must see its socket.
    const swanDir = mkdtempSync(join(tmpdir(), 'ktsec-'))
    magSwan = { ns: lab.ns.mag, dir: join(swanDir, 'mag'), proc: null }
    lmaSwan = { ns: lab.ns.lma, dir: join(swanDir, 'lma'), proc: null }
    swans.push(magSwan, lmaSwan)
    for (const s of swans) mkdirSync(s.dir, { recursive: true })
    // The timestamp window covers a busy single-CPU guest (see ip6tnl-lab.ktest.ts).
    lma = await lab.startLma({ timestampWindowMs: 10_000 })
    const magCfg = lab.magConfig({ drivers: { mock: { att: 4 } } })
    writeFileSync(join(DIR, 'mag-for-ipsec.json'), JSON.stringify(magCfg))
    const gen = spawnSync(process.execPath, [MAG_JS, 'ipsec-config', '--config', join(DIR, 'mag-for-ipsec.json'), '--auth', auth, '--out', `${DIR}/`], { encoding: 'utf8', timeout: 60_000 })
    if (gen.status !== 0) throw new Error(`mag ipsec-config: ${gen.stderr}`)
    await Promise.all([startCharon(magSwan), startCharon(lmaSwan)])
    load(magSwan, join(DIR, 'mag.conf'))
    load(lmaSwan, join(DIR, `lma-${LMA.replace(/:/g, '_')}.conf`))
    mag = await lab.startMag(magCfg)
  }, 600_000)

  afterAll(async () => {
    for (const s of swans.splice(0)) {
      s.proc?.kill('SIGKILL')
      try {
        writeFileSync(join(DIR, 'lab', `charon-${s.ns}.log`), readFileSync(join(s.dir, 'charon.log')))
      } catch {
        // no log
      }
      rmSync(s.dir, { recursive: true, force: true })
    }
    saveArtifacts(`ipsec-${auth}`, join(DIR, 'lab'))
    await lab?.down()
    rmSync(DIR, { recursive: true, force: true })
  })

  test(`§4 ${auth}: the IKEv2 SA comes up on the first PBU; PBU and PBA travel as ESP only (no plaintext MH on the wire); the MN registers`, async () => {
    const cap = await Capture.start(lab.ns.lma, 't0', 'ip6 and not icmp6')
    await mag.request({ cmd: 'attach', mn: MN, link: 'mn1', mac: NsLab.mnMac(1), att: 'wifi', hint: 'new' })
    await waitFor('the MAG binding registered', async () => (await magBindings()).some((b) => b.mnId === MN && b.state === 'registered'), 90_000, 250)
    const sas = swanctl(magSwan, '--list-sas').stdout
    expect(sas).toMatch(/ESTABLISHED/)
    expect(sas).toMatch(/pmip6-mh: #\d+, reqid \d+, INSTALLED, TRANSPORT, ESP/)
    const pkts = await cap.stop()
    const nxt = pkts.map((p) => p.all('ipv6.nxt')[0])
    expect(nxt.filter((n) => n === '135')).toEqual([])
    expect(nxt.filter((n) => n === '50').length).toBeGreaterThanOrEqual(2)
  })

  test(`§4 ${auth}: de-registration travels over the SA too`, async () => {
    const cap = await Capture.start(lab.ns.lma, 't0', 'ip6 and not icmp6')
    const before = espPackets(lab.ns.lma)
    await mag.request({ cmd: 'detach', mn: MN })
    await waitFor('the LMA binding de-registered', async () => !(await lmaBindings()).some((b) => b.mnId === MN && b.state === 'active'), 60_000, 250)
    // The LMA's SAs carried the de-registration PBU (in) and its PBA (out).
    expect(espPackets(lab.ns.lma)).toBeGreaterThanOrEqual(before + 2)
    const pkts = await cap.stop()
    expect(pkts.filter((p) => p.all('ipv6.nxt')[0] === '135')).toEqual([])
  })
})

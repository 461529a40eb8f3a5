// The netns lab as an operator uses it (issue 4): `mag lab status --json` tells where
// everything is, the control socket is private, SIGTERM de-registers every MN first, and
// `mag lab down` removes everything, also after the daemons crashed and the state file is gone.
import { spawnSync } from 'node:child_process'
import { existsSync, rmSync, statSync } from 'node:fs'
import { Capture, describeLab, labName, mag, magJson, waitFor, LAB_HOOK_TIMEOUT_MS, labUp, labDown, LAB_DOWN_HOOK_TIMEOUT_MS, labBindings } from './lab-harness'

const LAB = labName('e4l')
const netnsOfLab = (): string[] =>
  spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((l) => l.startsWith(`${LAB}-`))

interface Iface {
  name: string
  mac: string | null
  addresses: string[]
}
interface Node {
  namespace: string
  interfaces: Iface[]
  controlSocket?: string
  pid?: number
  running?: boolean
  mnId?: string
  mag?: string
  link?: string
  address?: string
}
interface LabStatus {
  name: string
  nodes: Record<string, Node>
}

describeLab('netns lab lifecycle', () => {
  jest.setTimeout(240_000) // tshark alone takes 10+ s to start on a loaded machine

  beforeAll(() => {
    labUp(LAB, ['--mns', '2'])
  }, LAB_HOOK_TIMEOUT_MS)

  afterAll(async () => {
    await labDown(LAB)
  }, LAB_DOWN_HOOK_TIMEOUT_MS)

  test('status --json names every node, its namespace, interfaces, addresses, control sockets and where each MN is', () => {
    const s = magJson<LabStatus>(['lab', 'status', '--name', LAB, '--json'])
    expect(Object.keys(s.nodes).sort()).toEqual(['cn', 'lma', 'mag1', 'mag2', 'mn1', 'mn2'])
    for (const n of Object.values(s.nodes)) expect(netnsOfLab()).toContain(n.namespace)
    const mag1 = s.nodes['mag1']!
    expect(mag1).toMatchObject({ namespace: `${LAB}-mag1`, address: '2001:db8:ffff::1', running: true, controlSocket: `/run/mag-lab/${LAB}/mag1.sock` })
    expect(mag1.interfaces.find((i) => i.name === 'up0')?.addresses).toContain('2001:db8:ffff::1/64')
    // The access links carry only the fixed link-local and link-layer address (RFC 5213 §6.8).
    const link = mag1.interfaces.find((i) => i.name === 'mn1')!
    expect(link.addresses).toEqual(['fe80::1/64'])
    expect(link.mac).toBe('02:00:00:00:00:fe')
    expect(s.nodes['mn2']).toMatchObject({ mnId: 'mn2@example.com', mag: 'mag1', link: 'mn2' })
    expect(s.nodes['lma']).toMatchObject({ address: '2001:db8:ffff::2', running: true })
  })

  test('the control socket is private to its owner (mode 0600)', () => {
    const st = statSync(`/run/mag-lab/${LAB}/mag1.sock`)
    expect(st.isSocket()).toBe(true)
    expect(st.mode & 0o777).toBe(0o600)
  })

  test('SIGTERM: the MAG de-registers every MN before it exits (shutdown: deregister)', async () => {
    // mn2 moves to mag2 at layer 2 and attaches there.
    expect(mag(['lab', 'move', '--name', LAB, 'mn2', '--to', 'mag2']).code).toBe(0)
    await waitFor('mn2 registered on mag2', async () => (await labBindings(LAB, 'mag2')).some((x) => x.mnId === 'mn2@example.com' && x.state === 'registered'))
    const cap = await Capture.startSynced(`${LAB}-mag2`, 'up0', 'ip6 proto 135')
    try {
      const s = magJson<LabStatus>(['lab', 'status', '--name', LAB, '--json'])
      const pid = s.nodes['mag2']!.pid!
      process.kill(pid, 'SIGTERM')
      await waitFor('mag2 exits', () => {
        try {
          process.kill(pid, 0)
          return false
        } catch {
          return true
        }
      }, 10_000)
      const pkts = await cap.stopSynced()
      const dereg = pkts.find((p) => p.v('mip6.mhtype') === '5' && p.v('mip6.mnid.identifier') === 'mn2@example.com')
      expect(dereg?.v('mip6.bu.lifetime')).toBe('0')
      expect(pkts.find((p) => p.v('mip6.mhtype') === '6')?.v('mip6.ba.status')).toBe('0')
      const st = magJson<LabStatus>(['lab', 'status', '--name', LAB, '--json'])
      expect(st.nodes['mag2']!.running).toBe(false)
    } finally {
      cap.kill()
    }
  })

  test('lab down after a crash: daemons killed, state file gone; every namespace and process is removed', async () => {
    const s = magJson<LabStatus>(['lab', 'status', '--name', LAB, '--json'])
    for (const k of ['lma', 'mag1']) {
      try {
        process.kill(s.nodes[k]!.pid!, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    // A stray process in a lab namespace, as a crashed test would leave.
    const stray = spawnSync('ip', ['netns', 'exec', `${LAB}-cn`, 'sh', '-c', 'sleep 300 >/dev/null 2>&1 & echo $!'], { encoding: 'utf8' })
    const strayPid = Number(stray.stdout.trim())
    expect(strayPid).toBeGreaterThan(0)
    rmSync(`/run/mag-lab/${LAB}/state.json`, { force: true })
    const down = mag(['lab', 'down', '--name', LAB])
    expect(down.code).toBe(0)
    expect(netnsOfLab()).toEqual([])
    expect(existsSync(`/run/mag-lab/${LAB}`)).toBe(false)
    await waitFor('stray process killed', () => {
      try {
        process.kill(strayPid, 0)
        return false
      } catch {
        return true
      }
    }, 5000)
  })

  test('not root: a clear error and a non-zero exit, nothing created', () => {
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, `${__dirname}/../../packages/cli/bin/mag.js`, 'lab', 'up', '--name', `${LAB}x`], { encoding: 'utf8', timeout: 30_000 })
    expect(r.status).not.toBe(0)
    expect(r.stderr).toMatch(/root/)
    expect(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout).not.toContain(`${LAB}x-`)
  })
})

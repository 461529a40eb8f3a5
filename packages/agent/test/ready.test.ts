// Readiness of `mag run` (first-contact issue): the control socket answers only once the data
// plane, the links and the drivers are up, and `status` says so in a `ready` field that scripts
// (`mag lab up`) wait on; it turns false while the MAG stops.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { controlRequest } from '../src/control'
import { validateConfig } from '../src/config'
import { startMag } from '../src/run'
import type { DataPlane } from '../src/daemon'
import type { MagIo } from '../src/io'

const io = (): MagIo & { links: string[] } => {
  const links: string[] = []
  return { links, sendMh() {}, sendNd() {}, sendIcmp() {}, onMh() {}, onNd() {}, addLink: (l: string) => void links.push(l), removeLink() {}, close() {} }
}
const quiet = (): Writable => new Writable({ write: (_c, _e, cb) => cb() })

describe('mag run readiness', () => {
  let dir = ''
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mag-ready-'))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  test('status says ready: true once the data plane, links and drivers are up; after stop nothing answers', async () => {
    const sock = join(dir, 'a.sock')
    const cfg = validateConfig({
      mag: { address: '2001:db8:ffff::1', controlSocket: sock, fixedLinkLocal: 'fe80::1', shutdown: 'keep' },
      links: { mn1: null },
      drivers: { mock: {} },
      profiles: [{ mnId: 'mn1@example.com', lma: '2001:db8:ffff::2' }],
    })
    const dp: DataPlane = { name: 'scripted', apply() {} }
    const fake = io()
    const starting = startMag(cfg, null, { io: fake, dataplane: dp, logStream: quiet() })
    const mag = await starting
    try {
      const st = (await controlRequest(sock, { cmd: 'status' })) as { ready: boolean; links: string[]; drivers: string[]; dataplane: { name: string } }
      expect(st).toMatchObject({ ready: true, links: ['mn1'], drivers: ['mock'], dataplane: { name: 'scripted' } })
      expect(fake.links).toEqual(['mn1'])
    } finally {
      await mag.stop(false)
    }
    await expect(controlRequest(sock, { cmd: 'status' }, 1000)).rejects.toThrow(/no daemon is listening/)
  })

  test('RFC 5845: GRE keys in the config on a data plane without ip6gre stop the start, naming the fields; nothing answers, the data plane is closed', async () => {
    const sock = join(dir, 'gre.sock')
    const cfg = validateConfig({
      mag: { address: '2001:db8:ffff::1', controlSocket: sock, fixedLinkLocal: 'fe80::1' },
      links: { mn1: null },
      lmas: { '2001:db8:ffff::2': { greKey: true } },
      profiles: [{ mnId: 'mn1@example.com', lma: '2001:db8:ffff::2', greKey: true }],
    })
    let closed = false
    const dp: DataPlane = {
      name: 'no-gre',
      gre: false,
      apply() {},
      close: async () => {
        closed = true
      },
    }
    await expect(startMag(cfg, null, { io: io(), dataplane: dp, logStream: quiet() })).rejects.toThrow(/^profiles\[0\]\.greKey, lmas\.2001:db8:ffff::2\.greKey: GRE keys \(RFC 5845\) need ip6gre/)
    expect(closed).toBe(true)
    await expect(controlRequest(sock, { cmd: 'status' }, 1000)).rejects.toThrow(/no daemon is listening/)
  })
})

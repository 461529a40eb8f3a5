// The mock link's state file: who is attached survives a restart of the daemon, as stations
// stay associated while a real MAG restarts.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { mock, type MockDriver } from '../src'

const ctx = { log: { debug() {}, info() {}, warn() {}, error() {} }, clock: { now: () => Date.now() } }
const tick = () => new Promise((r) => setImmediate(r))

describe('mock driver state file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mag-mock-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  test('attached MNs are written after a burst and read back by the next instance; detached ones are gone', async () => {
    const file = join(dir, 'a', 'mock.json')
    const a = mock({ stateFile: file }, ctx) as MockDriver
    await a.start()
    for (let i = 0; i < 500; i++) a.attach({ link: 'mn1', mac: `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, att: 4 })
    a.detach({ mac: '02:00:00:00:00:07' })
    await tick()
    expect((JSON.parse(readFileSync(file, 'utf8')) as unknown[]).length).toBe(499)
    await a.stop()

    const b = mock({ stateFile: file }, ctx)
    await b.start()
    const again = await b.attached()
    expect(again).toHaveLength(499)
    expect(again.find((f) => f.mac === '02:00:00:00:00:07')).toBeUndefined()
    expect(again[0]).toEqual({ type: 'attached', link: 'mn1', att: 4, mac: '02:00:00:00:00:00' })
    expect(await b.present({ link: 'mn1', mac: '02:00:00:00:01:f3' })).toBe(true)
    await b.stop()
  })

  test('a corrupt state file starts empty instead of failing', async () => {
    const file = join(dir, 'bad.json')
    writeFileSync(file, '{not json')
    const d = mock({ stateFile: file }, ctx)
    await d.start()
    expect(await d.attached()).toEqual([])
    await d.stop()
  })
})

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
    // A journal: 500 attaches and one detach, one line each, in order.
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string; mac: string })
    expect(lines).toHaveLength(501)
    expect(lines[500]).toMatchObject({ type: 'detached', mac: '02:00:00:00:00:07' })
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

  test('the journal is rewritten whole once it is twice the live set, and stays a true record', async () => {
    const file = join(dir, 'churn.json')
    const a = mock({ stateFile: file }, ctx) as MockDriver
    await a.start()
    a.attach({ link: 'mn1', mac: '02:00:00:00:aa:01' })
    for (let i = 0; i < 5000; i++) {
      a.attach({ link: 'mn1', mac: '02:00:00:00:00:01' })
      await tick()
      a.detach({ link: 'mn1', mac: '02:00:00:00:00:01' })
      await tick()
    }
    const size = readFileSync(file, 'utf8').trimEnd().split('\n').length
    expect(size).toBeLessThanOrEqual(2 * 1 + 1024 + 1)
    await a.stop()
    const b = mock({ stateFile: file }, ctx)
    await b.start()
    expect((await b.attached()).map((f) => f.mac)).toEqual(['02:00:00:00:aa:01'])
    // Replayed at start and written back compact: one line for one station.
    expect(readFileSync(file, 'utf8').trimEnd().split('\n')).toHaveLength(1)
    await b.stop()
  })

  test('a torn last line (a crash mid-append) loses only that change; the old array format is still read', async () => {
    const file = join(dir, 'torn.json')
    writeFileSync(file, '{"type":"attached","link":"mn1","att":4,"mac":"02:00:00:00:00:01"}\n{"type":"attached","link":"mn1","att":4,"mac":"02:00:00:00:00:02"}\n{"type":"attac')
    const warned: unknown[] = []
    const d = mock({ stateFile: file }, { ...ctx, log: { ...ctx.log, warn: (_m: string, f?: unknown) => void warned.push(f) } })
    await d.start()
    expect((await d.attached()).map((f) => f.mac)).toEqual(['02:00:00:00:00:01', '02:00:00:00:00:02'])
    expect(warned).toEqual([expect.objectContaining({ skipped: 1 })])
    await d.stop()

    const old = join(dir, 'old.json')
    writeFileSync(old, JSON.stringify([{ type: 'attached', link: 'mn2', att: 1, mnId: 'mn@example' }]))
    const e = mock({ stateFile: old }, ctx)
    await e.start()
    expect(await e.attached()).toEqual([{ type: 'attached', link: 'mn2', att: 1, mnId: 'mn@example' }])
    await e.stop()
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

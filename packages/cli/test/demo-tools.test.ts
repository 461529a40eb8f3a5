// First contact: on a machine without one of the demo's tools (a fresh Debian had no udhcpc),
// `mag lab demo` names the tool and its Debian package before it starts anything, instead of
// failing half-way through with "exec of udhcpc failed".
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEMO_TOOLS } from '../src/lab/demo'
import { listNetns, missingTools, onPath } from '../src/lab/sh'

describe('the demo says which tool is missing before it starts', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mag-demo-tools-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  test('onPath finds executable files only, in any directory of PATH', () => {
    const a = join(dir, 'a')
    const b = join(dir, 'b')
    mkdirSync(a)
    mkdirSync(b)
    writeFileSync(join(b, 'tool'), '#!/bin/sh\n')
    writeFileSync(join(a, 'plain'), 'not executable')
    mkdirSync(join(a, 'adir'))
    expect(onPath('tool', `${a}:${b}`)).toBe(false)
    chmodSync(join(b, 'tool'), 0o755)
    expect(onPath('tool', `${a}:${b}`)).toBe(true)
    expect(onPath('plain', a)).toBe(false)
    expect(onPath('adir', a)).toBe(false)
    expect(missingTools({ tool: 'pkg-tool', gone: 'pkg-gone' }, `${a}:${b}`)).toEqual([{ cmd: 'gone', pkg: 'pkg-gone' }])
  })

  test('mag lab demo without udhcpc on PATH: names it and its package, exits non-zero, makes no namespace', () => {
    // PATH holds the demo's other tools (the real ones), not udhcpc.
    for (const cmd of Object.keys(DEMO_TOOLS).filter((c) => c !== 'udhcpc')) {
      const home = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'].find((d) => onPath(cmd, d))
      if (home) symlinkSync(join(home, cmd), join(dir, cmd))
    }
    const name = `dt${process.pid % 100000}`
    const bin = join(__dirname, '..', 'bin', 'mag.js')
    const r = spawnSync(process.execPath, [bin, 'lab', 'demo', '--name', name], { encoding: 'utf8', env: { ...process.env, PATH: dir }, timeout: 60_000 })
    expect(r.status).not.toBe(0)
    expect(r.stdout + r.stderr).toContain('udhcpc (Debian package udhcpc)')
    expect(r.stdout + r.stderr).toContain('apt-get install -y --no-install-recommends udhcpc')
    expect(listNetns().filter((n) => n.startsWith(`${name}-`))).toEqual([])
  })
})

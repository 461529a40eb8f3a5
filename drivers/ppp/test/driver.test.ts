// The ppp driver with the real hook scripts: each attach runs the installed ipv6-up hook as
// pppd would (its six arguments, an emptied environment plus pppd's variables) against the
// driver's socket. Interfaces are a list the test controls, so nothing touches the network.
import { execFile } from 'node:child_process'
import type { Socket } from 'node:net'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AccessDriver, Logger } from '@pmip6/driver-api'
import { driverCompliance, FactLog } from '@pmip6/testkit'
import { deletedLinkName, hookScript, installHooks, ppp, type LinkState, type PppInit } from '../src'

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined }
const ctx = { log: quiet, clock: { now: () => Date.now() } }

interface Run {
  code: number | null
  stderr: string
  ms: number
}

/** Runs a hook exactly as pppd does: argv $1..$6, only pppd's environment, bounded. */
function runHook(path: string, args: readonly string[], env: Record<string, string>): Promise<Run> {
  const t0 = Date.now()
  return new Promise((resolve) => {
    execFile(path, [...args], { env, timeout: 10_000 }, (err, _out, stderr) => {
      const code: unknown = err ? (err as { code?: unknown }).code : 0
      resolve({ code: typeof code === 'number' ? code : 1, stderr, ms: Date.now() - t0 })
    })
  })
}

function world(extra: Partial<PppInit> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ppp-test-'))
  const links = new Map<string, boolean>()
  const hooks = installHooks(join(dir, 'etc-ppp'), { socket: join(dir, 'ppp.sock'), timeoutMs: 1500 })
  // Interface deletions the kernel would report (ip monitor link), driven by the test.
  const watchers = new Set<(ifname: string) => void>()
  const init: PppInit = {
    socket: join(dir, 'ppp.sock'),
    stateFile: join(dir, 'state', 'sessions.json'),
    links: async (): Promise<LinkState[]> => [...links].map(([name, up]) => ({ name, up })),
    watchLinks: (fn) => {
      watchers.add(fn)
      return () => watchers.delete(fn)
    },
    ...extra,
  }
  const args = (i: number) => [`ppp${i}`, `/dev/ttyS${i}`, '115200', `fe80::${i}:1`, `fe80::${i}:2`, `mn${i}@example.com`]
  const env = (i: number) => ({ IFNAME: `ppp${i}`, DEVICE: `/dev/ttyS${i}`, LINKNAME: `line${i}`, SPEED: '115200', LLLOCAL: `fe80::${i}:1`, LLREMOTE: `fe80::${i}:2`, ORIG_UID: '0', PPPLOGNAME: 'root' })
  return {
    dir,
    hooks,
    links,
    init,
    make: (): AccessDriver => ppp(init, ctx),
    up: async (i: number) => {
      links.set(`ppp${i}`, true)
      const r = await runHook(hooks.up, args(i), env(i))
      if (r.code !== 0) throw new Error(`hook exited ${String(r.code)}: ${r.stderr}`)
      return r
    },
    down: async (i: number) => {
      const r = await runHook(hooks.down, args(i), { ...env(i), CONNECT_TIME: '12', BYTES_SENT: '100', BYTES_RCVD: '200' })
      links.delete(`ppp${i}`)
      if (r.code !== 0) throw new Error(`hook exited ${String(r.code)}: ${r.stderr}`)
      return r
    },
    /** pppd killed: no ipv6-down, the kernel deletes the interface. */
    killed: (i: number) => {
      links.delete(`ppp${i}`)
      for (const f of watchers) f(`ppp${i}`)
    },
    /** Only the deletion event (the interface may exist again by the time it is read). */
    deletedEvent: (i: number) => {
      for (const f of watchers) f(`ppp${i}`)
    },
    watching: () => watchers.size,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  }
}

driverCompliance('ppp', async () => {
  const w = world()
  return {
    driver: w.make(),
    attach: async (i) => void (await w.up(i)),
    detach: async (i) => void (await w.down(i)),
    restart: async (old) => {
      await old.stop()
      const d = w.make()
      await d.start()
      return d
    },
    cleanup: async () => w.cleanup(),
    factTimeoutMs: 5000,
  }
})

describe('ppp driver and hooks', () => {
  const cleanups: (() => unknown)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  test('install-hooks writes executable run-parts-compatible scripts with an absolute node', () => {
    const w = world()
    cleanups.push(w.cleanup)
    for (const p of [w.hooks.up, w.hooks.down]) {
      expect(p).toMatch(/ipv6-(up|down)\.d\/mag-pmip6$/)
      expect(statSync(p).mode & 0o111).toBe(0o111)
      expect(readFileSync(p, 'utf8').startsWith(`#!${process.execPath}\n`)).toBe(true)
    }
    expect(() => hookScript('ipv6-up', { socket: '/x', node: 'node' })).toThrow(/absolute/)
  })

  test('a session: PEERNAME or ipparam names the MN, ATT 2, the ppp interface is the link', async () => {
    const w = world()
    const d = w.make()
    cleanups.push(w.cleanup, () => d.stop())
    await d.start()
    const log = new FactLog(d)
    w.links.set('ppp7', true)
    const r = await runHook(w.hooks.up, ['ppp7', '/dev/ttyUSB0', '0', 'fe80::1', 'fe80::2', 'mn7@example.com'], { IFNAME: 'ppp7', PEERNAME: 'carol@example.com' })
    expect(r.code).toBe(0)
    expect(await log.next('attached')).toEqual({ type: 'attached', link: 'ppp7', att: 2, mnId: 'carol@example.com' })
    await runHook(w.hooks.down, ['ppp7', '/dev/ttyUSB0', '0', 'fe80::1', 'fe80::2', 'mn7@example.com'], { IFNAME: 'ppp7', PEERNAME: 'carol@example.com' })
    expect(await log.next('detached')).toEqual({ type: 'detached', link: 'ppp7', mnId: 'carol@example.com', cause: 'left' })
  })

  test('pppd killed (no ipv6-down; the kernel deletes the interface): the session detaches; a deletion overtaken by a new session on the same name detaches nothing', async () => {
    const w = world()
    const d = w.make()
    cleanups.push(w.cleanup, () => d.stop())
    await d.start()
    expect(w.watching()).toBe(1)
    const log = new FactLog(d)
    await w.up(3)
    expect(await log.next('attached')).toMatchObject({ link: 'ppp3', mnId: 'mn3@example.com' })
    w.killed(3)
    expect(await log.next('detached')).toEqual({ type: 'detached', link: 'ppp3', mnId: 'mn3@example.com', cause: 'left' })
    expect(await d.attached()).toEqual([])
    // The old ppp4 is deleted, but a new session is up on ppp4 before the deletion is read.
    await w.up(4)
    expect(await log.next('attached')).toMatchObject({ link: 'ppp4' })
    w.deletedEvent(4)
    await new Promise((r) => setTimeout(r, 50))
    expect(await d.attached()).toEqual([{ type: 'attached', link: 'ppp4', att: 2, mnId: 'mn4@example.com' }])
    await d.stop()
    expect(w.watching()).toBe(0)
  })

  test('deletedLinkName reads iproute2 6.1 `ip -o monitor link` lines: only deletions', () => {
    expect(deletedLinkName('Deleted 3: ppp0@NONE: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \\    link/ether 5e:ea:fd:bf:a6:2c brd ff:ff:ff:ff:ff:ff')).toBe('ppp0')
    expect(deletedLinkName('Deleted 9: ppp12: <POINTOPOINT,MULTICAST,NOARP> mtu 1500 qdisc noop state DOWN group default \\    link/ppp')).toBe('ppp12')
    expect(deletedLinkName('3: ppp0@kv1: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 qdisc noop state DOWN group default')).toBeNull()
  })

  test('the hooks never block or fail pppd: agent down, agent silent, agent refusing', async () => {
    const w = world()
    cleanups.push(w.cleanup)
    // Down: nobody listens on the socket.
    const down = await runHook(w.hooks.up, ['ppp1', 'tty', '0', 'fe80::1', 'fe80::2', 'x'], {})
    expect(down.code).toBe(0)
    expect(down.stderr).toMatch(/not reachable/)
    // Silent: a listener that never answers; the hook gives up after its timeout (1500 ms).
    const net = await import('node:net')
    const held = new Set<Socket>()
    const mute = net.createServer((c) => void held.add(c))
    await new Promise<void>((r) => mute.listen(w.init.socket!, r))
    const silent = await runHook(w.hooks.up, ['ppp1', 'tty', '0', 'fe80::1', 'fe80::2', 'x'], {})
    expect(silent.code).toBe(0)
    // Bounded: its own timeout (1500 ms, never earlier) plus what starting the hook costs right
    // now (the 'down' run above: it exits at once), with room for a loaded machine (5.9 s seen);
    // a hook that waited on the silent agent would hang until jest's timeout.
    expect(silent.ms).toBeGreaterThanOrEqual(1500)
    expect(silent.ms).toBeLessThan(1500 + 2 * down.ms + 10_000)
    expect(silent.stderr).toMatch(/did not answer/)
    held.forEach((c) => c.destroy())
    await new Promise<void>((r) => mute.close(() => r()))
    // Refusing: the driver has no identity for the session.
    rmSync(w.init.socket!, { force: true })
    const d = w.make()
    cleanups.push(() => d.stop())
    await d.start()
    const refused = await runHook(w.hooks.up, ['ppp1', 'tty', '0', 'fe80::1', 'fe80::2', ''], {})
    expect(refused.code).toBe(0)
    expect(refused.stderr).toMatch(/refused.*no MN identifier/)
    expect(await d.attached()).toEqual([])
  })

  test('start reconciles remembered sessions with the interfaces that still exist', async () => {
    const w = world()
    cleanups.push(w.cleanup)
    const d1 = w.make()
    await d1.start()
    await w.up(1)
    await w.up(2)
    await d1.stop()
    w.links.delete('ppp2') // ppp2 went away while the agent was down
    w.links.set('ppp9', true) // a session the agent never heard of
    const d2 = w.make()
    cleanups.push(() => d2.stop())
    await d2.start()
    expect(await d2.attached()).toEqual([{ type: 'attached', link: 'ppp1', att: 2, mnId: 'mn1@example.com' }])
    expect(await d2.present({ link: 'ppp1', mnId: 'mn1@example.com' })).toBe(true)
    expect(await d2.present({ link: 'ppp1', mnId: 'other@example.com' })).toBe(false)
    w.links.set('ppp1', false) // administratively down
    expect(await d2.present({ link: 'ppp1' })).toBe(false)
    expect(JSON.parse(readFileSync(w.init.stateFile!, 'utf8')).sessions).toHaveProperty('ppp1')
  })

  test('a second agent configured with the same socket refuses to start; a stale socket file of a crashed one is taken over', async () => {
    const w = world()
    cleanups.push(w.cleanup)
    const d1 = w.make()
    cleanups.push(() => d1.stop())
    await d1.start()
    const d2 = w.make()
    await expect(d2.start()).rejects.toThrow(/drivers\.ppp\.socket .*another process is listening/)
    // The first keeps its socket and its sessions.
    await w.up(1)
    expect(await d1.attached()).toEqual([{ type: 'attached', link: 'ppp1', att: 2, mnId: 'mn1@example.com' }])
    // A socket file nobody answers on (the agent crashed): a new agent takes it.
    await d1.stop()
    const { spawn } = await import('node:child_process')
    const crashed = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(w.init.socket)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'ignore'] })
    await new Promise<void>((r) => crashed.stdout.once('data', () => r()))
    const gone = new Promise<void>((r) => crashed.once('exit', () => r()))
    crashed.kill('SIGKILL')
    await gone
    expect(existsSync(w.init.socket!)).toBe(true)
    const d3 = w.make()
    cleanups.push(() => d3.stop())
    await d3.start()
    await w.up(2)
    expect((await d3.attached()).map((f) => f.link).sort()).toEqual(['ppp1', 'ppp2'])
  })

  test('teardown sends SIGTERM to the pppd named by the pid file', async () => {
    const w = world()
    cleanups.push(w.cleanup)
    const { spawn } = await import('node:child_process')
    const victim = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' })
    cleanups.push(() => victim.exitCode === null && victim.kill('SIGKILL'))
    writeFileSync(join(w.dir, 'ppp4.pid'), `${victim.pid}\nppp4\n`)
    const d = ppp({ ...w.init, teardown: true, pidDir: w.dir }, ctx)
    cleanups.push(() => d.stop())
    await d.start()
    await w.up(4)
    const exited = new Promise<NodeJS.Signals | null>((r) => victim.once('exit', (_c, sig) => r(sig)))
    await d.teardown!({ link: 'ppp4' })
    expect(await exited).toBe('SIGTERM')
    expect(existsSync(w.init.socket!)).toBe(true)
  })
})

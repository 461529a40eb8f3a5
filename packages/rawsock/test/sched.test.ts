// setThreadRealtime() (issue 23): SCHED_RR for the calling thread only, needing CAP_SYS_NICE.
// Checked against the kernel's own view: field 41 (policy) of /proc/thread-self/stat, and the
// process's other threads (libuv, V8 helpers) keep SCHED_OTHER. The EPERM case runs in a child
// without CAP_SYS_NICE (root drops it with setpriv) and with RLIMIT_RTPRIO 0 (prlimit), so it runs
// as root too (CI does).
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setThreadRealtime } from '../src'

const SCHED_OTHER = 0
const SCHED_RR = 2
const policyOf = (stat: string): number => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38])
const IS_ROOT = process.getuid?.() === 0
const CAP_SYS_NICE = 23n // capabilities(7)
const BOOT = join(__dirname, 'fixtures', 'boot.js')
const RT_EPERM = join(__dirname, 'fixtures', 'rt-eperm.ts')
const missingTool = ['prlimit', ...(IS_ROOT ? ['setpriv'] : [])].find((t) => spawnSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }).status !== 0)
if (missingTool !== undefined && process.env['CI'] !== 'true') console.warn(`SKIPPED the EPERM case of setThreadRealtime: ${missingTool} (util-linux) is missing`)

describe('setThreadRealtime', () => {
  test('rejects priorities outside 0-99 with a type error, touching nothing', () => {
    expect(() => setThreadRealtime(-1)).toThrow(/out of range/)
    expect(() => setThreadRealtime(100)).toThrow(/out of range/)
    expect(policyOf(readFileSync('/proc/thread-self/stat', 'utf8'))).toBe(SCHED_OTHER)
  })

  ;(IS_ROOT ? test : test.skip)('puts this thread under SCHED_RR and back, the other threads never', () => {
    const others = () => readdirSync('/proc/self/task').filter((t) => t !== String(process.pid)).map((t) => policyOf(readFileSync(`/proc/self/task/${t}/stat`, 'utf8')))
    try {
      setThreadRealtime(1)
      expect(policyOf(readFileSync('/proc/thread-self/stat', 'utf8'))).toBe(SCHED_RR)
      expect(others().every((p) => p === SCHED_OTHER)).toBe(true)
    } finally {
      setThreadRealtime(0)
    }
    expect(policyOf(readFileSync('/proc/thread-self/stat', 'utf8'))).toBe(SCHED_OTHER)
  })

  ;(missingTool === undefined || process.env['CI'] === 'true' ? test : test.skip)('without CAP_SYS_NICE (and RLIMIT_RTPRIO 0) it fails with EPERM', () => {
    if (missingTool !== undefined) throw new Error(`${missingTool} (util-linux) is missing; CI=true, so this is a failure, not a skip`)
    // Root keeps a capability across exec through its inheritable and bounding sets: drop it from both.
    const dropNice = IS_ROOT ? ['setpriv', '--inh-caps=-sys_nice', '--bounding-set=-sys_nice'] : []
    const r = spawnSync('prlimit', ['--rtprio=0', ...dropNice, process.execPath, BOOT, RT_EPERM], { encoding: 'utf8', timeout: 60_000 })
    if (r.status !== 0) throw new Error(`the child exited ${r.status ?? r.signal}: ${r.stderr}`)
    const out = JSON.parse(r.stdout) as { capEff: string | null; ok: boolean; code?: string | null }
    expect(out.capEff).not.toBeNull()
    expect((BigInt(`0x${out.capEff}`) >> CAP_SYS_NICE) & 1n).toBe(0n)
    expect(out).toMatchObject({ ok: false, code: 'EPERM' })
  })
})

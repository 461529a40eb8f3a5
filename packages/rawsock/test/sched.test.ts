// setThreadRealtime() (issue 23): SCHED_RR for the calling thread only, needing CAP_SYS_NICE.
// Checked against the kernel's own view: field 41 (policy) of /proc/thread-self/stat, and the
// process's other threads (libuv, V8 helpers) keep SCHED_OTHER.
import { readdirSync, readFileSync } from 'node:fs'
import { setThreadRealtime } from '../src'

const SCHED_OTHER = 0
const SCHED_RR = 2
const policyOf = (stat: string): number => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38])
const IS_ROOT = process.getuid?.() === 0

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

  ;(IS_ROOT || process.env.CI === 'true' ? test.skip : test)('without CAP_SYS_NICE it fails with EPERM', () => {
    expect(() => setThreadRealtime(1)).toThrow(expect.objectContaining({ code: 'EPERM' }))
  })
})

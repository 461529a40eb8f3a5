// clockSynced(): adjtimex(2) read only (no privilege), for the MAG's wait after a
// TIMESTAMP_MISMATCH (RFC 5213 §6.9.1.2 item 9).
import { spawnSync } from 'node:child_process'
import { clockSynced } from '../src'

describe('clockSynced', () => {
  test('answers a boolean, the same as the kernel tells timedatectl where systemd can say', () => {
    const v = clockSynced()
    expect(typeof v).toBe('boolean')
    const t = spawnSync('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { encoding: 'utf8', timeout: 5000 })
    // timedatectl reads the same adjtimex state through systemd-timedated; without systemd it fails.
    if (t.status === 0 && (t.stdout.trim() === 'yes' || t.stdout.trim() === 'no')) expect(v).toBe(t.stdout.trim() === 'yes')
  })
})

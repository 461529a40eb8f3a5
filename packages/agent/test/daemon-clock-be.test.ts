// The daemon's side of issue 17: a Binding Error from an LMA reaches the core (RFC 5847 §3),
// a TIMESTAMP_MISMATCH wait ends by itself once the kernel reports the clock synchronised
// (RFC 5213 §6.9.1.2 item 9), checked with backoff; the sequence numbers start at random.
import { PBA_FLAGS, type BindingUpdate, type Heartbeat } from '@pmip6/wire'
import { LMA, world, type Sent } from './helpers/world'

const heartbeatRequests = (sent: readonly Sent[]) => sent.filter((s): s is Sent & { msg: Heartbeat } => s.msg.kind === 'heartbeat' && !s.msg.flags.r)
const MN = 'mn1@example.com'

function reject156(w: ReturnType<typeof world>, pbu: BindingUpdate): void {
  w.fromLma({ kind: 'binding-ack', status: 156, flags: PBA_FLAGS, sequence: pbu.sequence, lifetime: 0, options: pbu.options.filter((o) => o.type === 'mn-id' || o.type === 'timestamp') })
}

describe('daemon: issue 17', () => {
  test('RFC 5847 §3: a Binding Error status 2 from the LMA stops the heartbeats to it; logged, and shown in status', async () => {
    const w = world()
    await w.d.start()
    w.d.enqueue({ type: 'attached', at: w.now(), link: 'mn1', mnId: MN, att: 4 })
    w.accept(w.pbus()[0]!)
    w.tick(1000)
    expect(heartbeatRequests(w.sent)).toHaveLength(1)
    w.fromLma({ kind: 'binding-error', status: 2, homeAddress: Buffer.alloc(16), options: [] })
    expect(w.logs).toContainEqual({ level: 'warn', msg: 'lma has no heartbeat support: no more heartbeats to it', meta: { lma: LMA, state: 'unsupported', reason: 'binding-error:2', restartCounter: null } })
    expect(w.d.status().lmas).toEqual([expect.objectContaining({ lma: LMA, state: 'unsupported', reason: 'binding-error:2', requestsSent: 1 })])
    w.tick(60_000)
    expect(heartbeatRequests(w.sent)).toHaveLength(1)
    expect(w.d.bindings()[0]!.state).toBe('registered')
    expect(w.d.status().counters['mh.drop.unexpected-binding-error']).toBeUndefined()
    await w.d.stop(false)
  })

  test('§6.9.1.2 item 9: after a 156 the kernel clock is checked 1, 2, 4 ... s apart; once it reports synchronised the MN registers again', async () => {
    let synced = false
    let checks = 0
    const w = world({ mag: { heartbeatInterval: 0 }, clockSynced: () => (checks++, synced) })
    await w.d.start()
    w.d.enqueue({ type: 'attached', at: w.now(), link: 'mn1', mnId: MN, att: 4 })
    reject156(w, w.pbus()[0]!)
    expect(w.d.bindings()[0]).toMatchObject({ state: 'clock-wait', reason: 'pba-rejected:156' })
    w.tick(999)
    expect(checks).toBe(0)
    w.tick(1)
    expect(checks).toBe(1)
    w.tick(2000 + 4000)
    expect(checks).toBe(3)
    expect(w.pbus()).toHaveLength(1)
    synced = true
    w.tick(8000)
    expect(checks).toBe(4)
    expect(w.pbus()).toHaveLength(2)
    expect(w.d.bindings()[0]!.state).toBe('registering')
    expect(w.logs.some((l) => l.msg === 'clock synchronised (kernel): registering again')).toBe(true)
    w.accept(w.pbus()[1]!)
    expect(w.d.bindings()[0]!.state).toBe('registered')
    // Nothing is checked while no MN waits.
    w.tick(600_000)
    expect(checks).toBe(4)
    await w.d.stop(false)
  })

  test('§6.9.1.2 item 9: a kernel that says synchronised while the LMA keeps answering 156 gets the registrations paced (1, 2, 4 s ...), not a loop', async () => {
    const w = world({ mag: { heartbeatInterval: 0 }, clockSynced: () => true })
    await w.d.start()
    w.d.enqueue({ type: 'attached', at: w.now(), link: 'mn1', mnId: MN, att: 4 })
    const t0 = w.now()
    const sentAt: number[] = []
    for (let i = 0; i < 5; i++) {
      const pbu = w.pbus()[i]!
      sentAt.push(w.now() - t0)
      reject156(w, pbu)
      for (let k = 0; k < 200 && w.pbus().length === i + 1; k++) w.tick(500)
    }
    expect(sentAt).toEqual([0, 1000, 3000, 7000, 15_000])
    await w.d.stop(false)
  })

  test('an operator `clock-synced` still ends the wait; the pending kernel check then does nothing', async () => {
    let checks = 0
    const w = world({ mag: { heartbeatInterval: 0 }, clockSynced: () => (checks++, false) })
    await w.d.start()
    w.d.enqueue({ type: 'attached', at: w.now(), link: 'mn1', mnId: MN, att: 4 })
    reject156(w, w.pbus()[0]!)
    w.d.enqueue({ type: 'clock-synced', at: w.now() })
    expect(w.pbus()).toHaveLength(2)
    w.tick(5000)
    expect(checks).toBe(0)
    await w.d.stop(false)
  })

  test('RFC 6275 §11.7.1: each daemon start draws its first sequence number at random; a configured one is kept', async () => {
    const firsts = new Set<number>()
    for (let i = 0; i < 6; i++) {
      const w = world()
      await w.d.start()
      w.d.enqueue({ type: 'attached', at: w.now(), link: 'mn1', mnId: MN, att: 4 })
      firsts.add(w.pbus()[0]!.sequence)
      await w.d.stop(false)
    }
    // Six draws from 65,536 values: all equal with probability 2^-80.
    expect(firsts.size).toBeGreaterThan(1)
    const w = world({ mag: { initialSequence: 4242 } })
    await w.d.start()
    w.d.enqueue({ type: 'attached', at: w.now(), link: 'mn1', mnId: MN, att: 4 })
    expect(w.pbus()[0]!.sequence).toBe(4242)
    await w.d.stop(false)
  })
})

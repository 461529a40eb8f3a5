// The daemon's RFC 5847 wiring on an in-memory link and a fake clock: Heartbeat MH messages are
// decoded into core events and the core's requests and answers go out on the MH socket; the
// LMA's reachability is logged with structured fields and shown in `status`.
import { PBA_FLAGS, type Heartbeat } from '@pmip6/wire'
import { LMA, MAG, world, type Sent } from './helpers/world'

const heartbeats = (sent: readonly Sent[]) => sent.filter((s): s is Sent & { msg: Heartbeat } => s.msg.kind === 'heartbeat')

describe('daemon: RFC 5847 heartbeat', () => {
  test('requests go out on the MH socket once a binding exists; responses, the unreachable report and recovery are logged and in status', async () => {
    const w = world()
    await w.d.start()
    w.d.enqueue({ type: 'attached', at: w.now(), link: 'mn1', mnId: 'mn1@example.com', att: 4 })
    const pbu = w.sent.find((s) => s.msg.kind === 'binding-update')!
    expect(pbu.msg.kind).toBe('binding-update')
    if (pbu.msg.kind !== 'binding-update') return
    w.fromLma({
      kind: 'binding-ack',
      status: 0,
      flags: PBA_FLAGS,
      sequence: pbu.msg.sequence,
      lifetime: pbu.msg.lifetime,
      options: [...pbu.msg.options.filter((o) => o.type !== 'hnp'), { type: 'hnp', prefixLength: 64, prefix: Buffer.from('20010db8000100010000000000000000', 'hex') }],
    })
    expect(w.d.bindings()[0]!.state).toBe('registered')

    w.tick(1000)
    const req = heartbeats(w.sent)
    expect(req).toHaveLength(1)
    expect(req[0]).toMatchObject({ to: LMA, src: MAG, msg: { flags: { u: false, r: false }, options: [] } })
    w.fromLma({ kind: 'heartbeat', flags: { u: false, r: true }, sequence: req[0]!.msg.sequence, options: [{ type: 'restart-counter', value: 3 }] })
    expect(w.logs).toContainEqual({ level: 'info', msg: 'lma state', meta: { lma: LMA, state: 'reachable', reason: 'first-response', restartCounter: null } })
    expect(w.d.status().lmas).toEqual([expect.objectContaining({ lma: LMA, state: 'reachable', requestsSent: 1, responses: 1, restartCounter: 3 })])

    // Silent LMA: three unanswered requests, then the report at warn.
    w.tick(4000)
    expect(w.logs).toContainEqual({ level: 'warn', msg: 'lma state', meta: { lma: LMA, state: 'unreachable', reason: 'missing-heartbeats:3', restartCounter: 3 } })
    expect(w.d.status().lmas[0]).toMatchObject({ state: 'unreachable', misses: 3 })
    const last = heartbeats(w.sent).at(-1)!
    w.fromLma({ kind: 'heartbeat', flags: { u: false, r: true }, sequence: last.msg.sequence, options: [{ type: 'restart-counter', value: 3 }] })
    expect(w.d.status().lmas[0]).toMatchObject({ state: 'reachable', reason: 'heartbeat-response' })
    expect(w.d.status().counters['mh.tx.heartbeat-request']).toBe(5)
    await w.d.stop(false)
  })

  test("the LMA's own request is answered with its sequence number; a stray response is dropped and counted", async () => {
    const w = world()
    await w.d.start()
    w.d.enqueue({ type: 'attached', at: w.now(), link: 'mn1', mnId: 'mn1@example.com', att: 4 })
    w.fromLma({ kind: 'heartbeat', flags: { u: false, r: false }, sequence: 77, options: [] })
    const answers = heartbeats(w.sent).filter((s) => s.msg.flags.r)
    expect(answers).toEqual([{ to: LMA, src: MAG, msg: { kind: 'heartbeat', flags: { u: false, r: true }, sequence: 77, options: [] } }])
    w.fromLma({ kind: 'heartbeat', flags: { u: false, r: true }, sequence: 12345, options: [] })
    expect(w.d.status().counters['core.heartbeat-dropped:no-match']).toBe(1)
    expect(w.d.status().counters['mh.drop.unexpected-heartbeat']).toBeUndefined()
    await w.d.stop(false)
  })
})

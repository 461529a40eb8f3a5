import type { AccessDriver, LinkEvent } from '@pmip6/driver-api'
import { FactEmitter } from '@pmip6/driver-api'
import { assertWellFormed, FactLog } from '../src'

describe('assertWellFormed', () => {
  test('accepts well-formed facts', () => {
    expect(() => assertWellFormed({ type: 'attached', link: 'wlan0', mac: '02:00:00:00:00:01', att: 4 })).not.toThrow()
    expect(() => assertWellFormed({ type: 'detached', link: 'ppp0', mnId: 'mn@x', cause: 'left' })).not.toThrow()
  })

  test.each<[string, LinkEvent]>([
    ['an empty link', { type: 'attached', link: '', mac: '02:00:00:00:00:01', att: 4 }],
    ['an upper-case MAC', { type: 'attached', link: 'l', mac: '02:00:00:00:00:AA', att: 4 }],
    ['no identifier', { type: 'attached', link: 'l', att: 4 }],
    ['an ATT beyond 8 bits', { type: 'attached', link: 'l', mnId: 'a', att: 256 }],
    ['an unknown cause', { type: 'detached', link: 'l', mnId: 'a', cause: 'gone' as 'left' }],
  ])('refuses %s', (_, ev) => {
    expect(() => assertWellFormed(ev)).toThrow()
  })
})

describe('FactLog', () => {
  test('next() consumes facts in order, including ones that came before the call', async () => {
    const em = new FactEmitter()
    const d = { onEvent: (fn: (ev: LinkEvent) => void) => em.on(fn) } as unknown as AccessDriver
    const log = new FactLog(d)
    em.emit({ type: 'attached', link: 'a', mnId: 'x', att: 1 })
    em.emit({ type: 'attached', link: 'b', mnId: 'x', att: 1 })
    expect((await log.next('attached')).link).toBe('a')
    expect((await log.next('attached')).link).toBe('b')
    await expect(log.next('attached', () => true, 50)).rejects.toThrow(/no attached fact within 50 ms/)
    log.unsubscribe()
  })
})

import { HookMessageError, parseHookMessage, sessionMnId } from '../src/session'

const up = (args: string[], env: Record<string, string> = {}) => ({ v: 1, event: 'ipv6-up', args, env })

describe('hook messages', () => {
  test("pppd's six arguments and its environment", () => {
    const s = parseHookMessage(up(['ppp0', '/dev/ttyS0', '115200', 'fe80::1', 'fe80::2', 'mn1@example.com'], { PEERNAME: 'alice', LINKNAME: 'dsl1', IFNAME: 'ppp0' }))
    expect(s).toEqual({ event: 'ipv6-up', ifname: 'ppp0', tty: '/dev/ttyS0', speed: '115200', localLinkLocal: 'fe80::1', remoteLinkLocal: 'fe80::2', ipparam: 'mn1@example.com', peername: 'alice', linkname: 'dsl1' })
  })

  test('the interface falls back to IFNAME; empty PEERNAME is no peer name', () => {
    const s = parseHookMessage(up([], { IFNAME: 'ppp3', PEERNAME: '' }))
    expect(s.ifname).toBe('ppp3')
    expect(s.peername).toBeUndefined()
  })

  test.each([
    [null, /JSON object/],
    [{ v: 2, event: 'ipv6-up', args: ['ppp0'] }, /version/],
    [{ v: 1, event: 'ip-up', args: ['ppp0'] }, /event/],
    [{ v: 1, event: 'ipv6-up', args: [1] }, /args/],
    [{ v: 1, event: 'ipv6-up', args: ['../etc'] }, /interface name/],
    [{ v: 1, event: 'ipv6-up', args: ['ppp0'], env: [] }, /env/],
  ])('refuses %j', (doc, re) => {
    expect(() => parseHookMessage(doc)).toThrow(HookMessageError)
    expect(() => parseHookMessage(doc)).toThrow(re)
  })
})

describe('session identity', () => {
  const s = parseHookMessage(up(['ppp0', 'tty', '0', 'fe80::1', 'fe80::2', 'mn9@example.com'], { PEERNAME: 'mn1@example.com' }))
  const anon = parseHookMessage(up(['ppp0', 'tty', '0', 'fe80::1', 'fe80::2', 'mn9@example.com']))
  const none = parseHookMessage(up(['ppp0', 'tty', '0', 'fe80::1', 'fe80::2', '']))
  test('peername, ipparam, or the first there', () => {
    expect(sessionMnId(s, 'peername')).toBe('mn1@example.com')
    expect(sessionMnId(s, 'ipparam')).toBe('mn9@example.com')
    expect(sessionMnId(s, 'peername-or-ipparam')).toBe('mn1@example.com')
    expect(sessionMnId(anon, 'peername-or-ipparam')).toBe('mn9@example.com')
    expect(sessionMnId(anon, 'peername')).toBeUndefined()
    expect(sessionMnId(none, 'peername-or-ipparam')).toBeUndefined()
  })
})

describe('hook messages: garbage from a hook invocation', () => {
  // Whatever a (broken or hostile) hook sends is either a session or a HookMessageError.
  test('20,000 random documents: a session or a HookMessageError, nothing else', () => {
    let seed = 12345
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!
    const any = (d: number): unknown =>
      pick([
        () => null,
        () => rnd() * 1e6,
        () => pick(['ppp0', '', '../x', 'ppp0\n', 'a'.repeat(300), 'fe80::1', '\u0000', 'ipv6-up', 'ipv6-down']),
        () => (d > 2 ? 1 : Array.from({ length: Math.floor(rnd() * 8) }, () => any(d + 1))),
        () => (d > 2 ? true : Object.fromEntries(Array.from({ length: Math.floor(rnd() * 5) }, () => [pick(['v', 'event', 'args', 'env', 'IFNAME', 'PEERNAME', '__proto__']), any(d + 1)]))),
      ])()
    let sessions = 0
    for (let i = 0; i < 20_000; i++) {
      const doc = rnd() < 0.5 ? any(0) : { v: pick([1, 1, 2, '1']), event: pick(['ipv6-up', 'ipv6-down', 'x']), args: any(1), env: any(1) }
      try {
        parseHookMessage(doc)
        sessions++
      } catch (e) {
        expect(e).toBeInstanceOf(HookMessageError)
      }
    }
    expect(sessions).toBeGreaterThan(0)
  })
})

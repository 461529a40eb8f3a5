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

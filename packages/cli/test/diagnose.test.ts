// `mag lab demo` on a failed step prints the one daemon log line that most likely explains it
// (first-contact issue). Log lines below are real ones from a lab run (LMA forced to answer 152).
import { likelyCause, type DaemonLog } from '../src/lab/diagnose'

const MAG1 = [
  '{"backend":"seg6","component":"dataplane","level":"info","message":"data plane ready","pathMtu":1500,"role":"mag","timestamp":"2026-12-02T07:02:17.173Z","tunnelMtu":1460,"uplink":"up0"}',
  '{"level":"info","message":"control socket ready","path":"/run/mag-lab/fcx1/mag1.sock","ready":true,"timestamp":"2026-12-02T07:02:17.217Z"}',
  '{"component":"daemon","from":null,"level":"info","message":"state changed","mnId":"mn1@example.com","reason":"attached","timestamp":"2026-12-02T07:02:23.573Z","to":"registering"}',
  '{"component":"daemon","from":"registering","level":"info","message":"state changed","mnId":"mn1@example.com","reason":"pba-rejected:152","timestamp":"2026-12-02T07:02:23.676Z","to":"denied"}',
].join('\n')
const LMA = [
  '{"address":"2001:db8:ffff::2","component":"lab-lma","level":"info","message":"lma started","timestamp":"2026-12-02T07:02:17.192Z","timestampMode":"auto"}',
  '{"component":"lab-lma","level":"info","message":"fault set","patch":{"status":{"status":152}},"timestamp":"2026-12-02T07:02:19.109Z"}',
].join('\n')
const log = (node: string, text: string): DaemonLog => ({ node, path: `/run/mag-lab/x/${node}.log`, text })

describe('likelyCause: the daemon log line that explains a failed demo step', () => {
  test('a refused registration (RFC 5213 §6.9.1.2: the MN denied) is the line, not the last line of each log', () => {
    const c = likelyCause([log('lma', LMA), log('mag1', MAG1), log('mag2', '')])
    expect(c).toMatchObject({ node: 'mag1', path: '/run/mag-lab/x/mag1.log', why: 'the MAG gave up on or was refused a registration' })
    expect(c!.line).toContain('"reason":"pba-rejected:152"')
  })

  test('an error outranks it, the latest first; a crash trace (not JSON) counts as an error', () => {
    const err = '{"component":"lab-lma","level":"error","message":"lma forwarding change failed","mnId":"mn1@example.com","timestamp":"2026-12-02T07:02:23.600Z"}'
    expect(likelyCause([log('lma', `${LMA}\n${err}`), log('mag1', MAG1)])).toMatchObject({ node: 'lma', why: 'the last error a daemon logged', line: err })
    expect(likelyCause([log('mag2', 'TypeError: x is not a function\n    at y (z.js:1:1)')])?.line).toBe('TypeError: x is not a function')
  })

  test('lines from before the demo started do not count; nothing wrong: null', () => {
    expect(likelyCause([log('mag1', MAG1)], Date.parse('2026-12-02T07:02:24Z'))).toBeNull()
    expect(likelyCause([log('lma', LMA)])).toBeNull()
  })

  test('a refused PBU as the LMA logs it (debug) when the MAG said nothing; a warning last', () => {
    const sent = '{"component":"lab-lma","level":"debug","message":"mh sent","kind":"pba","status":156,"reason":"missing-timestamp","timestamp":"2026-12-02T07:02:20Z"}'
    expect(likelyCause([log('lma', sent)])?.why).toBe('the LMA refused a PBU')
    const warn = '{"level":"warn","message":"lma state","state":"unreachable","timestamp":"2026-12-02T07:02:21Z"}'
    expect(likelyCause([log('mag1', warn)])?.why).toBe('the last warning a daemon logged')
  })
})

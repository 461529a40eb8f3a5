// The RFC 5176 server on loopback: only configured clients, valid authenticators, the NAS
// identification check, Error-Cause in NAKs, and a retransmission answered without acting twice.
import { createSocket } from 'node:dgram'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DasServer, type SessionIds } from '../src/radius/das'
import { decode, encodeSignedRequest, text, verifyResponse, type RadiusPacket } from '../src/radius/codec'

const dir = mkdtempSync(join(tmpdir(), 'mag-das-'))
const secretFile = join(dir, 'secret')
writeFileSync(secretFile, 'testing123\n', { mode: 0o600 })
const SECRET = Buffer.from('testing123')
const log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined }

let das: DasServer
let port = 0
const calls: { kind: string; ids: SessionIds }[] = []

beforeAll(async () => {
  das = new DasServer({ listen: '127.0.0.1:0', clients: [{ address: '127.0.0.1', secretFile }] }, { ipv6: '2001:db8:ffff::1', identifier: 'mag1' }, {
    disconnect: (ids) => {
      calls.push({ kind: 'disconnect', ids })
      return ids.userName === 'mn1@example.org' ? true : 503
    },
    coa: (ids) => {
      calls.push({ kind: 'coa', ids })
      return true
    },
  }, log)
  port = (await das.start()).port
})
afterAll(() => {
  das.stop()
  rmSync(dir, { recursive: true, force: true })
})

/** Sends a request and returns the decoded answer, or null after `waitMs` without one. */
async function ask(bytes: Buffer, waitMs = 1500, sock?: ReturnType<typeof createSocket>): Promise<{ p: RadiusPacket; raw: Buffer } | null> {
  const s = sock ?? createSocket('udp4')
  try {
    return await new Promise((resolve) => {
      const t = setTimeout(() => resolve(null), waitMs)
      s.once('message', (m) => {
        clearTimeout(t)
        resolve({ p: decode(m), raw: m })
      })
      s.send(bytes, port, '127.0.0.1')
    })
  } finally {
    if (!sock) s.close()
  }
}

test('Disconnect-Request for a known session: ACK, signed over the request authenticator; the same request again: the same answer, no second action', async () => {
  const req = encodeSignedRequest(40, 1, [text(1, 'mn1@example.org')], SECRET, true)
  // A retransmission comes from the same port (RFC 5080 §2.2.2: source address and port, Identifier, authenticator).
  const sock = createSocket('udp4')
  const a = await ask(req, 1500, sock)
  expect(a?.p.code).toBe(41)
  expect(verifyResponse(a!.raw, req.subarray(4, 20), SECRET, true)).toBe('ok')
  const again = await ask(req, 1500, sock)
  sock.close()
  expect(again?.raw.equals(a!.raw)).toBe(true)
  expect(calls.filter((c) => c.kind === 'disconnect')).toHaveLength(1)
  expect(das.counters.get('duplicates')).toBe(1)
})

test.each([
  ['an unknown session', [text(1, 'nobody@example.org')], 42, 503],
  ['no session attribute', [text(18, 'hello')], 42, 402],
  ['another NAS-Identifier', [text(1, 'mn1@example.org'), text(32, 'mag2')], 42, 403],
])('%s: NAK with Error-Cause', async (_w, attrs, code, cause) => {
  const a = await ask(encodeSignedRequest(40, 2 + cause, attrs, SECRET))
  expect(a?.p.code).toBe(code)
  expect(a?.p.attributes.find((x) => x.type === 101)?.value.readUInt32BE(0)).toBe(cause)
})

test('CoA-Request: ACK', async () => {
  const a = await ask(encodeSignedRequest(43, 9, [text(1, 'mn1@example.org')], SECRET))
  expect(a?.p.code).toBe(44)
})

test('a wrong secret, a broken Message-Authenticator, garbage and an Access-Request are dropped unanswered and counted', async () => {
  expect(await ask(encodeSignedRequest(40, 20, [text(1, 'mn1@example.org')], Buffer.from('wrong')), 300)).toBeNull()
  const bad = encodeSignedRequest(40, 21, [text(1, 'mn1@example.org')], SECRET, true)
  bad[bad.length - 1]! ^= 1
  expect(await ask(bad, 300)).toBeNull()
  expect(await ask(Buffer.from('nonsense'), 300)).toBeNull()
  expect(await ask(encodeSignedRequest(1, 22, [text(1, 'x')], SECRET), 300)).toBeNull()
  const c = das.counters.snapshot()
  expect(c['dropped.bad-authenticator']).toBe(2) // the flipped HMAC byte changes the MD5 authenticator too
  expect(c['dropped.malformed.truncated']).toBe(1)
  expect(c['dropped.unexpected-code.1']).toBe(1)
})

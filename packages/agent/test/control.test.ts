// The control socket: NDJSON requests over a real UNIX stream socket; bad requests are
// answered with an error and counted, the server stays up; the socket is mode 0600.
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ControlServer, ControlError, controlRequest, MAX_REQUEST_BYTES } from '../src/control'

function rawExchange(path: string, payload: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const s = connect(path)
    let buf = ''
    const t = setTimeout(() => {
      s.destroy()
      resolve(buf.split('\n').filter(Boolean))
    }, 500)
    s.on('connect', () => s.write(payload))
    s.on('data', (d) => (buf += d.toString()))
    s.on('close', () => {
      clearTimeout(t)
      resolve(buf.split('\n').filter(Boolean))
    })
    s.on('error', reject)
  })
}

describe('control socket', () => {
  let dir: string
  let server: ControlServer
  let path: string
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mag-ctl-'))
    path = join(dir, 'sub', 'mag.sock')
    server = new ControlServer(
      path,
      new Map([
        ['echo', (r) => ({ got: r['x'] ?? null })],
        [
          'fail',
          () => {
            throw new ControlError('nope')
          },
        ],
      ]),
    )
    await server.start()
  })
  afterEach(async () => {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  test('is created with mode 0600', () => {
    expect(statSync(path).mode & 0o777).toBe(0o600)
  })

  test('answers a request and reports handler errors as one line', async () => {
    await expect(controlRequest(path, { cmd: 'echo', x: 5 })).resolves.toEqual({ got: 5 })
    await expect(controlRequest(path, { cmd: 'fail' })).rejects.toThrow('nope')
    await expect(controlRequest(path, { cmd: 'nosuch' })).rejects.toThrow(/unknown command "nosuch"/)
  })

  test('garbage gets an error reply, the connection goes on serving', async () => {
    const lines = await rawExchange(path, 'this is not json\n[1,2]\n{"x":1}\n{"cmd":"echo","x":"ok"}\n')
    expect(lines.map((l) => JSON.parse(l) as { ok: boolean; error?: string })).toEqual([
      { ok: false, error: 'request is not valid JSON' },
      { ok: false, error: 'request must be a JSON object' },
      { ok: false, error: 'request needs a "cmd" string' },
      { ok: true, result: { got: 'ok' } },
    ])
    expect(server.counters.badRequests).toBe(3)
  })

  test('an oversized request is refused and the server stays up', async () => {
    const lines = await rawExchange(path, 'x'.repeat(MAX_REQUEST_BYTES + 10))
    expect(JSON.parse(lines[0]!)).toMatchObject({ ok: false })
    await expect(controlRequest(path, { cmd: 'echo', x: 1 })).resolves.toEqual({ got: 1 })
  })

  test('a client with no daemon gets a clear error', async () => {
    await expect(controlRequest(join(dir, 'none.sock'), { cmd: 'status' })).rejects.toThrow(/no daemon is listening/)
  })

  test('a stale socket file from a crash is replaced', async () => {
    await server.stop()
    // stop() unlinks; simulate a crash leaving the file behind by starting twice
    const a = new ControlServer(path, new Map())
    await a.start()
    const b = new ControlServer(path, new Map([['echo', () => 1]]))
    await b.start()
    await expect(controlRequest(path, { cmd: 'echo' })).resolves.toBe(1)
    await b.stop()
    await a.stop()
  })
})

import { PassThrough } from 'node:stream'
import { child, createLogger } from '../src/log'

function capture(level: 'debug' | 'info' | 'warn' | 'error') {
  const stream = new PassThrough()
  const lines: Record<string, unknown>[] = []
  stream.on('data', (b: Buffer) => {
    for (const l of b.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>)
  })
  return { log: createLogger(level, stream), lines }
}

const flush = () => new Promise((r) => setImmediate(r))

describe('child logger', () => {
  it('writes the levels the logger allows, with the component and the fields', async () => {
    const { log, lines } = capture('info')
    const l = child(log, 'daemon')
    l.debug('not this', { a: 1 })
    l.info('state changed', { mnId: 'mn1@example.com' })
    l.error('bad')
    await flush()
    expect(lines.map((x) => x['message'])).toEqual(['state changed', 'bad'])
    expect(lines[0]).toMatchObject({ level: 'info', component: 'daemon', mnId: 'mn1@example.com' })
  })

  it('follows a change of the logger level made after its first line', async () => {
    const { log, lines } = capture('warn')
    const l = child(log, 'daemon')
    l.info('dropped')
    log.level = 'debug'
    l.debug('kept')
    log.level = 'error'
    l.warn('dropped too')
    await flush()
    expect(lines.map((x) => x['message'])).toEqual(['kept'])
  })
})

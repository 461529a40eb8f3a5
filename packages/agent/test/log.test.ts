import { PassThrough } from 'node:stream'
import { child, createLogger, HeldLog } from '../src/log'

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

describe('HeldLog (issue 23: lines after the batch\'s packets)', () => {
  const spy = () => {
    const out: string[] = []
    const at = (lv: string) => (msg: string, meta?: Record<string, unknown>) => out.push(`${lv} ${msg}${meta ? ` ${JSON.stringify(meta)}` : ''}`)
    return { out, log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } }
  }

  it('writes at once when nothing holds it', () => {
    const { out, log } = spy()
    const h = new HeldLog(log)
    h.info('a', { x: 1 })
    h.error('b')
    expect(out).toEqual(['info a {"x":1}', 'error b'])
  })

  it('holds info, warn and error until the outermost release, then writes them in order', () => {
    const { out, log } = spy()
    const h = new HeldLog(log)
    h.hold()
    h.info('state changed', { mnId: 'mn1' })
    h.hold() // an event enqueued from within a batch
    h.warn('inner')
    h.release()
    expect(out).toEqual([])
    h.error('last')
    h.release()
    expect(out).toEqual(['info state changed {"mnId":"mn1"}', 'warn inner', 'error last'])
    h.info('after')
    expect(out).toHaveLength(4)
  })

  it('lets debug lines through at once (the level gate drops them for nothing)', () => {
    const { out, log } = spy()
    const h = new HeldLog(log)
    h.hold()
    h.debug('pbu sent')
    expect(out).toEqual(['debug pbu sent'])
    h.release()
  })

  it('through a real winston child: the held lines come out with their fields', async () => {
    const { log, lines } = capture('info')
    const h = new HeldLog(child(log, 'daemon'))
    h.hold()
    h.info('forwarding up', { mnId: 'mn1@example.com' })
    h.release()
    await flush()
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ message: 'forwarding up', component: 'daemon', mnId: 'mn1@example.com' })
  })
})

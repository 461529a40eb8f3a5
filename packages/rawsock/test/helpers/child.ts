// Spawns test/fixtures/child.ts inside a namespace and reads its JSON lines, every wait bounded.
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import type { ChildOutput, ChildSpec } from './protocol'

const FIXTURES = join(__dirname, '..', 'fixtures')
const BOOT = join(FIXTURES, 'boot.js')
const CHILD = join(FIXTURES, 'child.ts')
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']

const live = new Set<ChildProcessWithoutNullStreams>()

/** Kills every child still running (afterAll). */
export function killAllChildren(): void {
  for (const p of live) p.kill('SIGKILL')
  live.clear()
}

export interface ChildHandle {
  /** The next output line of the given kind, within timeoutMs. */
  next<E extends ChildOutput['event']>(event: E, timeoutMs: number): Promise<Extract<ChildOutput, { event: E }>>
  /** Sends a line on stdin (the 'go' of waitForGo). */
  go(): void
  kill(): void
  stderr(): string
}

export function startChild(ns: string, spec: ChildSpec, opts: { asNobody?: boolean } = {}): ChildHandle {
  const args = ['netns', 'exec', ns, ...(opts.asNobody === true ? NOBODY : []), process.execPath, BOOT, CHILD, JSON.stringify(spec)]
  const proc = spawn('ip', args, { stdio: ['pipe', 'pipe', 'pipe'] })
  live.add(proc)
  const lines: ChildOutput[] = []
  const waiters: Array<() => void> = []
  let stderr = ''
  let stdoutRest = ''
  let exited: string | null = null
  const wake = (): void => {
    for (const w of waiters.splice(0)) w()
  }
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (stdoutRest + chunk).split('\n')
    stdoutRest = parts.pop() ?? ''
    for (const p of parts) {
      if (p.trim() === '') continue
      try {
        lines.push(JSON.parse(p) as ChildOutput)
      } catch {
        stderr += `[non-JSON stdout] ${p}\n`
      }
    }
    wake()
  })
  proc.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  proc.on('close', (code, signal) => {
    live.delete(proc)
    exited = `exited with ${code ?? signal}`
    wake()
  })
  proc.stdin.on('error', () => undefined) // child gone before we wrote: reported through next()

  return {
    next<E extends ChildOutput['event']>(event: E, timeoutMs: number): Promise<Extract<ChildOutput, { event: E }>> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          proc.kill('SIGKILL')
          reject(new Error(`child in ${ns}: no '${event}' within ${timeoutMs} ms; stderr:\n${stderr}`))
        }, timeoutMs)
        const look = (): void => {
          const i = lines.findIndex((l) => l.event === event)
          if (i >= 0) {
            clearTimeout(timer)
            resolve(lines.splice(i, 1)[0] as Extract<ChildOutput, { event: E }>)
          } else if (exited !== null) {
            clearTimeout(timer)
            const other = lines.length > 0 ? `; other output: ${JSON.stringify(lines)}` : ''
            reject(new Error(`child in ${ns} ${exited} before '${event}'${other}; stderr:\n${stderr}`))
          } else {
            waiters.push(look)
          }
        }
        look()
      })
    },
    go(): void {
      proc.stdin.write('go\n')
    },
    kill(): void {
      proc.kill('SIGKILL')
    },
    stderr: () => stderr,
  }
}

/** Runs a child to completion and returns its single answer. */
export function runChild<E extends ChildOutput['event']>(
  ns: string,
  spec: ChildSpec,
  event: E,
  opts: { asNobody?: boolean; timeoutMs?: number } = {},
): Promise<Extract<ChildOutput, { event: E }>> {
  return startChild(ns, spec, opts).next(event, opts.timeoutMs ?? 60_000)
}

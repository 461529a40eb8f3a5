/** Running the system tools the lab is made of (iproute2, sysctl), with bounded time and clear errors. */
import { execFileSync, spawnSync } from 'node:child_process'
import { accessSync, constants, statSync } from 'node:fs'
import { delimiter, join } from 'node:path'

export class ShellError extends Error {}

export function sh(cmd: string, args: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: opts.timeoutMs ?? 15_000, stdio: ['pipe', 'pipe', 'pipe'], ...(opts.input !== undefined ? { input: opts.input } : {}) })
  } catch (e) {
    const err = e as { stderr?: string; status?: number; code?: string; message: string }
    const why = (err.stderr ?? '').trim() || err.code || err.message
    throw new ShellError(`${cmd} ${args.join(' ')}: ${why}`)
  }
}

/** `ip -n NS ...` */
export function ipn(ns: string, ...args: string[]): string {
  return sh('ip', ['-n', ns, ...args])
}

export function nsExec(ns: string, cmd: string, args: readonly string[], opts: { timeoutMs?: number } = {}): string {
  return sh('ip', ['netns', 'exec', ns, cmd, ...args], opts)
}

/** Whether `cmd` is an executable file in a directory of `path` (as a shell would find it). */
export function onPath(cmd: string, path: string = process.env.PATH ?? ''): boolean {
  return path
    .split(delimiter)
    .filter((d) => d.length > 0)
    .some((d) => {
      try {
        const f = join(d, cmd)
        accessSync(f, constants.X_OK)
        return statSync(f).isFile()
      } catch {
        return false
      }
    })
}

/** The tools of `needs` (command -> Debian package) that are not on PATH, with their packages. */
export function missingTools(needs: Readonly<Record<string, string>>, path?: string): { cmd: string; pkg: string }[] {
  return Object.entries(needs)
    .filter(([cmd]) => !onPath(cmd, path))
    .map(([cmd, pkg]) => ({ cmd, pkg }))
}

export function listNetns(): string[] {
  const out = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 10_000 })
  if (out.status !== 0) return []
  return out.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.length > 0)
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms))
}

/** Polls `fn` until it returns a value (not undefined) or the time runs out. */
export async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs: number, everyMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined) return v
    } catch (e) {
      last = e
    }
    if (Date.now() >= until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`)
    await sleep(everyMs)
  }
}

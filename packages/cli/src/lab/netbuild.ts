/**
 * Network settings in few processes. The lab used to run one `ip` or `sysctl` process per
 * setting, each 10-30 ms of CPU (far more on a loaded machine or in single-CPU User-Mode Linux).
 * NetBuild collects a phase's commands per network namespace and runs each group as one
 * `ip [-n NS] -batch -` or one shell writing /proc/sys, and maps a failing batch line back to
 * its command and namespace.
 *
 * Ordering: a phase's commands run grouped by (kind, namespace, address family), the groups in
 * the order each first appears, each group's commands in the order given. A command that must
 * follow one from another group goes in a later phase (a later `run()`).
 */
import { spawnSync } from 'node:child_process'

/** `ip -4`/`ip -6`: a global option, so it cannot be written in a batch line; it splits groups. */
export type Family = 4 | 6

export interface SysctlSetting {
  readonly key: string
  readonly value: string
  /** Skip the setting when the kernel does not have the key (a module's, say). */
  readonly ifPresent: boolean
}

export type NetBatch =
  | { readonly kind: 'ip'; readonly ns: string | null; readonly family?: Family; readonly lines: readonly string[] }
  | { readonly kind: 'sysctl'; readonly ns: string; readonly settings: readonly SysctlSetting[] }

export interface BatchCommand {
  readonly cmd: string
  readonly args: readonly string[]
  readonly input: string
}

export class NetBuildError extends Error {
  constructor(
    message: string,
    readonly ns: string | null,
    /** The failing `ip` line or `key=value`, when the output names it. */
    readonly command?: string,
    /** 1-based line of the batch, for `ip`. */
    readonly line?: number,
  ) {
    super(message)
    this.name = 'NetBuildError'
  }
}

export interface RunResult {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
  readonly error?: Error
}

export type Runner = (c: BatchCommand, timeoutMs: number) => RunResult

export const spawnRunner: Runner = (c, timeoutMs) => {
  const r = spawnSync(c.cmd, c.args, { input: c.input, encoding: 'utf8', timeout: timeoutMs, stdio: ['pipe', 'pipe', 'pipe'] })
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ...(r.error ? { error: r.error } : {}) }
}

/** A batch may take this long, plus BATCH_MS_PER_LINE for each line (UML runs 200-MN labs). */
export const BATCH_BASE_TIMEOUT_MS = 15_000
export const BATCH_MS_PER_LINE = 250

// ip's batch reader splits on blanks and honours quotes, backslashes and '#' comments: an
// argument is written only when none of them can change how it is read back.
const SAFE_ARG = /^[^\s"'\\#]+$/
const SYSCTL_KEY = /^[A-Za-z0-9_.\-/]+$/
const SYSCTL_VALUE = /^[^\n'\\]*$/

type Step = { kind: 'ip'; ns: string | null; family: Family | undefined; line: string } | { kind: 'sysctl'; ns: string; setting: SysctlSetting }

export class NetBuild {
  private steps: Step[] = []

  /** `ip [-n ns] [-4|-6] ARGS`, ns null for the namespace we run in. */
  ip(ns: string | null, args: readonly string[], o: { family?: Family } = {}): this {
    if (args.length === 0) throw new Error('ip: no command')
    if (args[0]!.startsWith('-')) throw new Error(`ip ${args.join(' ')}: global options cannot go in a batch line (the family is the family option)`)
    for (const a of args) if (!SAFE_ARG.test(a)) throw new Error(`ip ${args.join(' ')}: argument ${JSON.stringify(a)} cannot be written in a batch line`)
    this.steps.push({ kind: 'ip', ns, family: o.family, line: args.join(' ') })
    return this
  }

  /** `sysctl -w key=value` in namespace ns; keys with '/' are paths under /proc/sys (for names with dots). */
  sysctl(ns: string, key: string, value: string | number, o: { ifPresent?: boolean } = {}): this {
    const v = String(value)
    if (!SYSCTL_KEY.test(key) || key.split(/[./]/).some((p) => p === '' || p === '..')) throw new Error(`sysctl: bad key ${JSON.stringify(key)}`)
    if (!SYSCTL_VALUE.test(v)) throw new Error(`sysctl ${key}: bad value ${JSON.stringify(v)}`)
    this.steps.push({ kind: 'sysctl', ns, setting: { key, value: v, ifPresent: o.ifPresent ?? false } })
    return this
  }

  get size(): number {
    return this.steps.length
  }

  /** The batches the collected commands make, in the order they run. */
  batches(): NetBatch[] {
    const groups = new Map<string, { kind: 'ip'; ns: string | null; family?: Family; lines: string[] } | { kind: 'sysctl'; ns: string; settings: SysctlSetting[] }>()
    for (const s of this.steps) {
      const id = s.kind === 'ip' ? `ip ${s.ns ?? ''} ${s.family ?? ''}` : `sysctl ${s.ns}`
      let g = groups.get(id)
      if (g === undefined) {
        g = s.kind === 'ip' ? { kind: 'ip', ns: s.ns, ...(s.family !== undefined ? { family: s.family } : {}), lines: [] } : { kind: 'sysctl', ns: s.ns, settings: [] }
        groups.set(id, g)
      }
      if (s.kind === 'ip' && g.kind === 'ip') g.lines.push(s.line)
      else if (s.kind === 'sysctl' && g.kind === 'sysctl') g.settings.push(s.setting)
    }
    return [...groups.values()]
  }

  /** Runs the collected commands, batch by batch, and forgets them; throws NetBuildError at the first failure. */
  run(runner: Runner = spawnRunner): void {
    const batches = this.batches()
    this.steps = []
    for (const b of batches) {
      const r = runner(batchCommand(b), batchTimeoutMs(b))
      if (r.status !== 0) throw explainFailure(b, r)
    }
  }
}

export function batchSize(b: NetBatch): number {
  return b.kind === 'ip' ? b.lines.length : b.settings.length
}

export function batchTimeoutMs(b: NetBatch): number {
  return BATCH_BASE_TIMEOUT_MS + BATCH_MS_PER_LINE * batchSize(b)
}

/** The process that runs a batch, and what it reads on stdin. */
export function batchCommand(b: NetBatch): BatchCommand {
  if (b.kind === 'ip') {
    const args = [...(b.ns !== null ? ['-n', b.ns] : []), ...(b.family !== undefined ? [`-${b.family}`] : []), '-batch', '-']
    return { cmd: 'ip', args, input: b.lines.map((l) => `${l}\n`).join('') }
  }
  return { cmd: 'ip', args: ['netns', 'exec', b.ns, 'sh', '-c', sysctlScript(b.settings)], input: '' }
}

/** Marks the setting a sysctl script failed on, on stderr. */
export const SYSCTL_FAILED = 'netbuild-sysctl-failed:'

function sysctlPath(key: string): string {
  return `/proc/sys/${key.includes('/') ? key : key.replace(/\./g, '/')}`
}

/** One shell writing every setting, stopping at the first that fails, which it names. */
export function sysctlScript(settings: readonly SysctlSetting[]): string {
  const lines = [`f() { echo "${SYSCTL_FAILED} $1" >&2; exit 1; }`]
  for (const s of settings) {
    const p = sysctlPath(s.key)
    const write = `printf '%s\\n' '${s.value}' > ${p} || f '${s.key}=${s.value}'`
    lines.push(s.ifPresent ? `[ ! -e ${p} ] || ${write}` : write)
  }
  return lines.join('\n')
}

function where(ns: string | null): string {
  return ns === null ? 'the root namespace' : `namespace ${ns}`
}

/** The error for a failed batch: the command and namespace it failed on, and why. */
export function explainFailure(b: NetBatch, r: RunResult): NetBuildError {
  const stderr = r.stderr.trim()
  if (r.error !== undefined && r.status === null) {
    const what = b.kind === 'ip' ? `ip batch of ${b.lines.length} lines` : `${b.settings.length} sysctl settings`
    return new NetBuildError(`${what} in ${where(b.ns)}: ${r.error.message}${stderr ? `: ${stderr}` : ''}`, b.ns)
  }
  if (b.kind === 'ip') {
    // ip -batch: "<why>\nCommand failed -:<line>" (1-based), and it stops there.
    const m = /^Command failed \S*:(\d+)$/m.exec(stderr)
    const line = m ? Number(m[1]) : undefined
    const why = stderr.slice(0, m ? m.index : undefined).trim() || `exit status ${r.status}`
    const cmd = line !== undefined ? b.lines[line - 1] : undefined
    const fam = b.family !== undefined ? `-${b.family} ` : ''
    if (cmd === undefined) return new NetBuildError(`ip ${fam}batch in ${where(b.ns)} failed: ${why}`, b.ns)
    return new NetBuildError(`ip ${b.ns !== null ? `-n ${b.ns} ` : ''}${fam}${cmd} (line ${line} of a batch in ${where(b.ns)}): ${why}`, b.ns, cmd, line)
  }
  const m = new RegExp(`^${SYSCTL_FAILED} (.*)$`, 'm').exec(stderr)
  const cmd = m ? m[1] : undefined
  const why =
    stderr
      .split('\n')
      .filter((l) => !l.startsWith(SYSCTL_FAILED))
      .join('; ')
      .trim() || `exit status ${r.status}`
  if (cmd === undefined) return new NetBuildError(`sysctl in ${where(b.ns)} failed: ${why}`, b.ns)
  return new NetBuildError(`sysctl -w ${cmd} in ${where(b.ns)}: ${why}`, b.ns, cmd)
}

/**
 * Runs `ip -force -batch -` (every line, failures or not), for cleanup: the output of the lines
 * that worked, and whether all did.
 */
export function ipBatchAll(lines: readonly string[], runner: Runner = spawnRunner): { ok: boolean; stdout: string } {
  if (lines.length === 0) return { ok: true, stdout: '' }
  const r = runner({ cmd: 'ip', args: ['-force', '-batch', '-'], input: lines.map((l) => `${l}\n`).join('') }, BATCH_BASE_TIMEOUT_MS + BATCH_MS_PER_LINE * lines.length)
  return { ok: r.status === 0, stdout: r.stdout }
}

/**
 * Network settings in few processes. The lab used to run one `ip` or `sysctl` process per
 * setting, each 10-30 ms of CPU (far more on a loaded machine or in single-CPU User-Mode Linux).
 * NetBuild collects a phase's commands per network namespace and runs each group as one
 * `ip [-n NS] -batch -`, and a phase's sysctls as one `ip -batch -` of `netns exec NS sh -c`
 * lines (ip forks each shell itself: one process per namespace, not two), and maps a failing
 * batch line back to its command and namespace.
 *
 * Ordering: a phase's ip commands run grouped by (namespace, address family), its sysctls as
 * one group, per namespace; the groups in the order each first appears, each group's commands
 * in the order given. A command that must follow one from another group goes in a later phase
 * (a later `run()`).
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

export interface NsSysctls {
  readonly ns: string
  readonly settings: readonly SysctlSetting[]
}

export type NetBatch =
  | { readonly kind: 'ip'; readonly ns: string | null; readonly family?: Family; readonly lines: readonly string[] }
  /** Run from the root namespace, one line per namespace. */
  | { readonly kind: 'sysctl'; readonly namespaces: readonly NsSysctls[] }

export interface BatchCommand {
  readonly cmd: string
  readonly args: readonly string[]
  readonly input: string
}

export class NetBuildError extends Error {
  constructor(
    message: string,
    readonly ns: string | null,
    /** The failing `ip` line or sysctl `key=value`, when the output names it. */
    readonly command?: string,
    /** 1-based line of the batch. */
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

// ip's batch reader splits on blanks and honours quotes and '#' comments: an argument is
// written only when none of them (nor a backslash) can change how it is read back. A sysctl
// script is one double-quoted argument: no double quote, '#' or newline in it; values are
// single-quoted inside it.
const SAFE_ARG = /^[^\s"'\\#]+$/
const SYSCTL_KEY = /^[A-Za-z0-9_.\-/]+$/
const SYSCTL_VALUE = /^[^\n\r'"\\#]*$/

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
    const groups = new Map<string, { kind: 'ip'; ns: string | null; family?: Family; lines: string[] } | { kind: 'sysctl'; perNs: Map<string, SysctlSetting[]> }>()
    for (const s of this.steps) {
      const id = s.kind === 'ip' ? `ip ${s.ns ?? ''} ${s.family ?? ''}` : 'sysctl'
      let g = groups.get(id)
      if (g === undefined) {
        g = s.kind === 'ip' ? { kind: 'ip', ns: s.ns, ...(s.family !== undefined ? { family: s.family } : {}), lines: [] } : { kind: 'sysctl', perNs: new Map() }
        groups.set(id, g)
      }
      if (s.kind === 'ip' && g.kind === 'ip') g.lines.push(s.line)
      else if (s.kind === 'sysctl' && g.kind === 'sysctl') {
        const list = g.perNs.get(s.ns) ?? []
        list.push(s.setting)
        g.perNs.set(s.ns, list)
      }
    }
    return [...groups.values()].map((g) => (g.kind === 'ip' ? g : { kind: 'sysctl', namespaces: [...g.perNs].map(([ns, settings]) => ({ ns, settings })) }))
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
  return b.kind === 'ip' ? b.lines.length : b.namespaces.reduce((n, x) => n + x.settings.length, 0)
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
  return { cmd: 'ip', args: ['-batch', '-'], input: b.namespaces.map((x) => `netns exec ${x.ns} sh -c "${sysctlScript(x.settings)}"\n`).join('') }
}

/** Marks the setting a sysctl script failed on, on stderr. */
export const SYSCTL_FAILED = 'netbuild-sysctl-failed:'

function sysctlPath(key: string): string {
  return `/proc/sys/${key.includes('/') ? key : key.replace(/\./g, '/')}`
}

/** A shell script on one line writing every setting, stopping at the first that fails, which it names. */
export function sysctlScript(settings: readonly SysctlSetting[]): string {
  return settings
    .map((s) => {
      const p = sysctlPath(s.key)
      const write = `echo '${s.value}' > ${p} || { echo '${SYSCTL_FAILED} ${s.key}=${s.value}' >&2; exit 1; }`
      return s.ifPresent ? `[ ! -e ${p} ] || ${write}` : write
    })
    .join('; ')
}

function where(ns: string | null): string {
  return ns === null ? 'the root namespace' : `namespace ${ns}`
}

/** The error for a failed batch: the command and namespace it failed on, and why. */
export function explainFailure(b: NetBatch, r: RunResult): NetBuildError {
  const stderr = r.stderr.trim()
  if (r.error !== undefined && r.status === null) {
    if (b.kind === 'sysctl') return new NetBuildError(`sysctl settings for ${b.namespaces.map((x) => x.ns).join(', ')}: ${r.error.message}${stderr ? `: ${stderr}` : ''}`, null)
    return new NetBuildError(`ip batch of ${b.lines.length} lines in ${where(b.ns)}: ${r.error.message}${stderr ? `: ${stderr}` : ''}`, b.ns)
  }
  // ip -batch: "<why>\nCommand failed -:<line>" (1-based), and it stops there.
  const m = /^Command failed \S*:(\d+)$/m.exec(stderr)
  const line = m ? Number(m[1]) : undefined
  const before = stderr.slice(0, m ? m.index : undefined).trim()
  if (b.kind === 'ip') {
    const why = before || `exit status ${r.status}`
    const cmd = line !== undefined ? b.lines[line - 1] : undefined
    const fam = b.family !== undefined ? `-${b.family} ` : ''
    if (cmd === undefined) return new NetBuildError(`ip ${fam}batch in ${where(b.ns)} failed: ${why}`, b.ns)
    return new NetBuildError(`ip ${b.ns !== null ? `-n ${b.ns} ` : ''}${fam}${cmd} (line ${line} of a batch in ${where(b.ns)}): ${why}`, b.ns, cmd, line)
  }
  const ns = line !== undefined ? b.namespaces[line - 1]?.ns : undefined
  const named = new RegExp(`^${SYSCTL_FAILED} (.*)$`, 'm').exec(before)
  const cmd = named ? named[1] : undefined
  const why =
    before
      .split('\n')
      .filter((l) => !l.startsWith(SYSCTL_FAILED))
      .join('; ')
      .trim() || `exit status ${r.status}`
  if (ns === undefined) return new NetBuildError(`sysctl settings for ${b.namespaces.map((x) => x.ns).join(', ')} failed: ${why}`, null)
  if (cmd === undefined) return new NetBuildError(`sysctl settings in ${where(ns)} failed: ${why}`, ns, undefined, line)
  return new NetBuildError(`sysctl -w ${cmd} in ${where(ns)}: ${why}`, ns, cmd, line)
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

/**
 * A real FreeRADIUS (Debian's freeradius 3.2) for tests and benchmarks: a generated config
 * directory (radiusd.conf with the files and pap modules, a users file the caller writes, the
 * clients allowed), started as `freeradius -X -d <dir>` (or quieter, `-f -l stdout`, for the
 * benchmark) inside a namespace the caller made. Replies carry a Message-Authenticator (RFC
 * 3579 §3.2; FreeRADIUS before 3.2.5 adds it only when the reply list holds one).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { waitUntil, within } from './netns'

export interface FreeRadiusOptions {
  /** Config directory (created; mode 0700). */
  readonly dir: string
  /** Address FreeRADIUS listens on (auth 1812, acct 1813 unless given). */
  readonly listen: string
  readonly authPort?: number
  readonly acctPort?: number
  readonly clients: readonly { readonly address: string; readonly secret: string }[]
  /** The users file (rlm_files syntax). */
  readonly users: string
  /** -X (full debug, one thread) or quiet (-f, log to stdout). */
  readonly debug?: boolean
}

export function haveFreeRadius(): string | null {
  for (const tool of ['freeradius', 'radclient']) if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) return `${tool} is missing (apt-get install freeradius freeradius-utils)`
  if (!existsSync('/usr/share/freeradius/dictionary.rfc6572')) return 'the FreeRADIUS dictionaries (dictionary.rfc6572) are missing'
  return null
}

export function writeFreeRadiusConfig(o: FreeRadiusOptions): void {
  mkdirSync(o.dir, { recursive: true, mode: 0o700 })
  const d = o.dir
  const isV6 = o.listen.includes(':')
  const clients = o.clients
    .map((c, i) => [`client c${i} {`, `  ${c.address.includes(':') ? 'ipv6addr' : 'ipaddr'} = ${c.address}`, `  secret = ${c.secret}`, '  require_message_authenticator = yes', '}'].join('\n'))
    .join('\n')
  const listen = (type: string, port: number) => [`  listen {`, `    type = ${type}`, `    ${isV6 ? 'ipv6addr' : 'ipaddr'} = ${o.listen}`, `    port = ${port}`, '  }'].join('\n')
  const conf = `prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = ${d}
raddbdir = ${d}
radacctdir = ${d}
name = freeradius
confdir = ${d}
modconfdir = ${d}
run_dir = ${d}
db_dir = ${d}
libdir = /usr/lib/freeradius
pidfile = ${d}/radiusd.pid
max_request_time = 10
cleanup_delay = 2
max_requests = 16384
hostname_lookups = no
log {
  destination = stdout
  auth = no
}
security {
  allow_core_dumps = no
  max_attributes = 200
  reject_delay = 0
  status_server = no
}
thread pool {
  start_servers = 2
  max_servers = 4
  min_spare_servers = 1
  max_spare_servers = 3
}
${clients}
modules {
  files {
    filename = ${d}/users
  }
  always ok {
    rcode = ok
  }
  pap {
  }
}
server default {
${listen('auth', o.authPort ?? 1812)}
${listen('acct', o.acctPort ?? 1813)}
  authorize {
    files
    pap
  }
  authenticate {
    Auth-Type PAP {
      pap
    }
  }
  preacct {
    ok
  }
  accounting {
    ok
  }
  post-auth {
    update reply {
      &Message-Authenticator := 0x00
    }
    Post-Auth-Type REJECT {
      update reply {
        &Message-Authenticator := 0x00
      }
    }
  }
}
`
  writeFileSync(join(d, 'radiusd.conf'), conf, { mode: 0o600 })
  writeFileSync(join(d, 'users'), o.users, { mode: 0o600 })
}

/** A FreeRADIUS process in a namespace; its output goes to `<dir>/radiusd.log`. */
export class FreeRadius {
  private child: ChildProcess | null = null
  readonly log: string

  constructor(
    readonly ns: string,
    readonly o: FreeRadiusOptions,
  ) {
    this.log = join(o.dir, 'radiusd.log')
  }

  get alive(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null
  }

  logText(): string {
    try {
      return readFileSync(this.log, 'utf8')
    } catch {
      return ''
    }
  }

  /** Starts it and waits for "Ready to process requests" (bounded). */
  async start(timeoutMs = 30_000): Promise<void> {
    const before = this.logText().length
    const fd = openSync(this.log, 'a')
    try {
      const args = this.o.debug === false ? ['-f', '-l', 'stdout'] : ['-X']
      this.child = spawn('ip', ['netns', 'exec', this.ns, 'freeradius', ...args, '-d', this.o.dir], { stdio: ['ignore', fd, fd] })
    } finally {
      closeSync(fd)
    }
    const c = this.child
    await waitUntil(
      'freeradius ready',
      () => {
        if (c.exitCode !== null) throw new Error(`freeradius exited ${c.exitCode}:\n${this.logText().slice(before).split('\n').slice(-20).join('\n')}`)
        return this.logText().slice(before).includes('Ready to process requests')
      },
      timeoutMs,
      50,
    )
  }

  /** SIGKILL (a crash) or SIGTERM; waits for the exit (bounded). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const c = this.child
    if (!c || c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise<void>((r) => c.once('exit', () => r()))
    c.kill(signal)
    await within(exited, 5000)
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL')
      await within(exited, 2000)
    }
  }
}

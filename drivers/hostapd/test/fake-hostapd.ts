// A stand-in for hostapd's control interface on a real AF_UNIX datagram socket, speaking the
// subset the driver uses (PING, ATTACH, DETACH, STA, STA-FIRST, STA-NEXT, DEAUTHENTICATE,
// DISASSOCIATE) with the reply shapes seen from hostapd 2.10 (protocol-reference.md §7).
import { existsSync, mkdirSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { createSocket, type UnixDgramSocket } from 'unix-dgram'

interface Sta {
  aid: number
  identity?: string
  authorized: boolean
}

export class FakeHostapd {
  private sock: UnixDgramSocket | null = null
  private readonly monitors = new Set<string>()
  readonly stations = new Map<string, Sta>()
  readonly commands: string[] = []
  private nextAid = 1
  /** When false, requests are swallowed (a hung hostapd). */
  answering = true

  constructor(
    readonly dir: string,
    readonly iface: string,
  ) {}

  get path(): string {
    return join(this.dir, this.iface)
  }

  start(): void {
    mkdirSync(this.dir, { recursive: true })
    if (existsSync(this.path)) unlinkSync(this.path)
    const s = createSocket('unix_dgram')
    s.on('error', () => undefined)
    s.on('message', (buf, rinfo) => this.onMessage(buf.toString('utf8'), rinfo.path))
    s.bind(this.path)
    this.sock = s
  }

  /** Goes away like a killed hostapd: the socket file disappears, monitors are forgotten. */
  stop(): void {
    this.monitors.clear()
    if (this.sock) {
      try {
        this.sock.close()
      } catch {
        // closed
      }
    }
    this.sock = null
    try {
      unlinkSync(this.path)
    } catch {
      // gone
    }
  }

  connect(mac: string, identity?: string): void {
    // hostapd parses MACs case-insensitively; events print what it was given here.
    this.stations.set(mac.toLowerCase(), { aid: this.nextAid++, authorized: true, ...(identity ? { identity } : {}) })
    this.event(`AP-STA-CONNECTED ${mac}`)
  }

  /** A station in EAP, not yet authorized: listed, but not connected. */
  associateOnly(mac: string): void {
    this.stations.set(mac, { aid: this.nextAid++, authorized: false })
  }

  disconnect(mac: string, silently = false): void {
    this.stations.delete(mac.toLowerCase())
    if (!silently) this.event(`AP-STA-DISCONNECTED ${mac}`)
  }

  event(text: string, level = 3): void {
    for (const m of this.monitors) this.send(`<${level}>${text}`, m)
  }

  private send(text: string, to: string): void {
    this.sock?.send(Buffer.from(text), 0, text.length, to, () => undefined)
  }

  private staText(mac: string): string {
    const s = this.stations.get(mac)
    if (!s) return 'FAIL\n'
    return [mac, `flags=${s.authorized ? '[AUTHORIZED]' : ''}`, `aid=${s.aid}`, 'dot1xAuthPaeState=5', ...(s.identity ? [`dot1xAuthSessionUserName=${s.identity}`] : []), ''].join('\n')
  }

  private onMessage(cmd: string, from: string | undefined): void {
    if (!from || !this.answering) return
    this.commands.push(cmd)
    const [name = '', rawArg = ''] = cmd.split(' ')
    const arg = rawArg.toLowerCase()
    const macs = [...this.stations.keys()]
    let reply: string
    switch (name) {
      case 'PING':
        reply = 'PONG\n'
        break
      case 'ATTACH':
        this.monitors.add(from)
        reply = 'OK\n'
        break
      case 'DETACH':
        this.monitors.delete(from)
        reply = 'OK\n'
        break
      case 'STA':
        reply = this.staText(arg)
        break
      case 'STA-FIRST':
        reply = macs[0] ? this.staText(macs[0]) : ''
        break
      case 'STA-NEXT': {
        const i = macs.indexOf(arg)
        const n = i >= 0 ? macs[i + 1] : undefined
        reply = n ? this.staText(n) : ''
        break
      }
      case 'DEAUTHENTICATE':
      case 'DISASSOCIATE':
        if (this.stations.has(arg)) {
          reply = 'OK\n'
          this.send(reply, from)
          this.disconnect(arg)
          return
        }
        reply = 'FAIL\n'
        break
      default:
        reply = 'UNKNOWN COMMAND\n'
    }
    this.send(reply, from)
  }
}

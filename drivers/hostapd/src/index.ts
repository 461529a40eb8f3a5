/**
 * The hostapd access driver: Wi-Fi stations reported by hostapd's control interface
 * (protocol-reference.md §7) become attach/detach facts with access technology IEEE 802.11
 * (RFC 5213 §8.5, ATT 4).
 *
 * Per hostapd interface two client sockets, as wpa_ctrl.h recommends: one ATTACHed for events
 * (and PINGed, so a restarted hostapd is noticed), one for requests (STA, STA-FIRST/NEXT,
 * DEAUTHENTICATE), so replies and events never interleave. After a (re)connect the station
 * list is reconciled with what the driver knew: new stations attach, gone ones detach. The
 * connection made inside start() reports nothing by itself; the daemon asks attached().
 *
 * The MN identifier comes from the core's profiles by MAC, or, per interface, from the 802.1X
 * identity hostapd learned (`dot1xAuthSessionUserName`). The access link is the interface, or
 * hostapd's per-station interface `<iface>.sta<aid>` (per_sta_vif) when configured.
 */
import { FactEmitter, type AccessDriver, type AttachedFact, type DriverFactory, type LinkEvent, type Logger, type PresenceQuery } from '@pmip6/driver-api'
import { CtrlSocket } from './ctrl'
import { aidOf, dot1xIdentity, isAuthorized, isOk, isPong, parseEvent, parseStaReply, type StationInfo } from './parse'

export * from './parse'
export { CtrlError, CtrlSocket } from './ctrl'

export const ATT_IEEE_802_11 = 4 // RFC 5213 §8.5: IEEE 802.11a/b/g
export const DEFAULT_CTRL_DIR = '/var/run/hostapd' // hostapd's and hostapd_cli's default
export const DEFAULT_PING_INTERVAL_MS = 5_000
export const DEFAULT_REQUEST_TIMEOUT_MS = 1_000
/** Bounds STA-FIRST/STA-NEXT walks, so a confused peer cannot keep us looping. */
const MAX_STATIONS = 4096

export interface HostapdInterfaceInit {
  /** hostapd's interface name: the socket's file name and, by default, the access link. */
  readonly name: string
  /** The control socket; default `<ctrlDir>/<name>`. */
  readonly ctrlPath?: string
  /** Where the MN-ID comes from: the core's profiles by MAC (default) or the 802.1X identity. */
  readonly identity?: 'mac' | 'dot1x'
  /** hostapd per_sta_vif: each station has its own interface `<name>.sta<aid>`. */
  readonly perStaVif?: boolean
}

export interface HostapdInit {
  readonly interfaces: readonly HostapdInterfaceInit[]
  readonly ctrlDir?: string
  /** Where our client sockets are bound (wpa_ctrl uses /tmp). */
  readonly clientDir?: string
  readonly pingIntervalMs?: number
  readonly requestTimeoutMs?: number
  /** How teardown() disconnects a station. */
  readonly teardown?: 'deauthenticate' | 'disassociate' | 'none'
  readonly att?: number
}

interface Iface {
  readonly cfg: HostapdInterfaceInit
  readonly ev: CtrlSocket
  readonly req: CtrlSocket
  up: boolean
  readonly stations: Map<string, AttachedFact>
  /** Serialises event handling, pings and reconciliation per interface. */
  chain: Promise<void>
  busy: boolean
}

export const hostapd: DriverFactory<HostapdInit> = (init, ctx): AccessDriver => {
  const log: Logger = ctx.log
  const events = new FactEmitter()
  const ctrlDir = init.ctrlDir ?? DEFAULT_CTRL_DIR
  const clientDir = init.clientDir ?? '/tmp'
  const timeoutMs = init.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
  const att = init.att ?? ATT_IEEE_802_11
  let running = false
  let pinger: NodeJS.Timeout | null = null

  const ifaces: Iface[] = init.interfaces.map((cfg) => {
    const path = cfg.ctrlPath ?? `${ctrlDir}/${cfg.name}`
    return { cfg, ev: new CtrlSocket(path, clientDir, timeoutMs), req: new CtrlSocket(path, clientDir, timeoutMs), up: false, stations: new Map(), chain: Promise.resolve(), busy: false }
  })

  const serial = (i: Iface, fn: () => Promise<void>): Promise<void> => {
    const p = i.chain.then(fn).catch((e: unknown) => log.warn('hostapd handling failed', { iface: i.cfg.name, error: (e as Error).message }))
    i.chain = p
    return p
  }

  const linkOf = (i: Iface, sta: StationInfo | null): string => {
    if (!i.cfg.perStaVif) return i.cfg.name
    const aid = sta ? aidOf(sta) : undefined
    return aid !== undefined && aid > 0 ? `${i.cfg.name}.sta${aid}` : i.cfg.name
  }

  const factFor = (i: Iface, mac: string, sta: StationInfo | null): AttachedFact => {
    const mnId = i.cfg.identity === 'dot1x' && sta ? dot1xIdentity(sta) : undefined
    if (i.cfg.identity === 'dot1x' && !mnId) log.warn('no 802.1X identity for station; the profile by MAC decides', { iface: i.cfg.name, mac })
    return { type: 'attached', link: linkOf(i, sta), mac, att, ...(mnId ? { mnId } : {}) }
  }

  const needsStaQuery = (i: Iface): boolean => i.cfg.identity === 'dot1x' || i.cfg.perStaVif === true

  const queryStation = async (i: Iface, mac: string): Promise<StationInfo | null> => parseStaReply(await i.req.request(`STA ${mac}`))

  const listStations = async (i: Iface): Promise<StationInfo[]> => {
    const out: StationInfo[] = []
    let s = parseStaReply(await i.req.request('STA-FIRST'))
    while (s && out.length < MAX_STATIONS) {
      out.push(s)
      s = parseStaReply(await i.req.request(`STA-NEXT ${s.mac}`))
    }
    return out
  }

  const emit = (ev: LinkEvent): void => {
    if (running) events.emit(ev)
  }

  const onConnected = async (i: Iface, mac: string): Promise<void> => {
    let sta: StationInfo | null = null
    if (needsStaQuery(i)) {
      try {
        sta = await queryStation(i, mac)
      } catch (e) {
        log.warn('STA query failed', { iface: i.cfg.name, mac, error: (e as Error).message })
      }
    }
    const f = factFor(i, mac, sta)
    i.stations.set(mac, f)
    log.info('station connected', { iface: i.cfg.name, mac, link: f.link, ...(f.mnId ? { mnId: f.mnId } : {}) })
    emit(f)
  }

  const onDisconnected = (i: Iface, mac: string, cause: 'left' | 'lost'): void => {
    const f = i.stations.get(mac)
    if (!f) {
      log.debug('disconnect of a station we did not know', { iface: i.cfg.name, mac })
      return
    }
    i.stations.delete(mac)
    log.info('station disconnected', { iface: i.cfg.name, mac, link: f.link, cause })
    emit({ type: 'detached', link: f.link, mac, cause, ...(f.mnId ? { mnId: f.mnId } : {}) })
  }

  const onEventText = (i: Iface, text: string): void => {
    const ev = parseEvent(text)
    if (!ev || ev.kind === 'other') return
    void serial(i, async () => {
      if (ev.kind === 'sta-connected') await onConnected(i, ev.mac)
      else onDisconnected(i, ev.mac, 'left')
    })
  }

  /** (Re)connects, ATTACHes and reconciles; `report` false inside start(): attached() tells. */
  const connect = async (i: Iface, report: boolean): Promise<boolean> => {
    try {
      i.ev.open()
      i.req.open()
      i.ev.onEvent((t) => onEventText(i, t))
      const r = await i.ev.request('ATTACH')
      if (!isOk(r)) throw new Error(`ATTACH answered ${JSON.stringify(r.trim())}`)
      const now = (await listStations(i)).filter(isAuthorized)
      const seen = new Set<string>()
      for (const sta of now) {
        seen.add(sta.mac)
        if (i.stations.has(sta.mac)) continue
        const f = factFor(i, sta.mac, sta)
        i.stations.set(sta.mac, f)
        if (report) {
          log.info('station found on reconnect', { iface: i.cfg.name, mac: sta.mac, link: f.link })
          emit(f)
        }
      }
      for (const mac of [...i.stations.keys()]) {
        if (seen.has(mac)) continue
        if (report) onDisconnected(i, mac, 'lost')
        else i.stations.delete(mac)
      }
      i.up = true
      log.info('hostapd attached', { iface: i.cfg.name, path: i.ev.remotePath, stations: i.stations.size })
      return true
    } catch (e) {
      i.ev.close()
      i.req.close()
      if (i.up || !report) log.warn('hostapd not reachable; retrying', { iface: i.cfg.name, path: i.ev.remotePath, error: (e as Error).message })
      i.up = false
      return false
    }
  }

  const tick = (i: Iface): void => {
    if (i.busy) return
    i.busy = true
    void serial(i, async () => {
      try {
        if (!running) return
        if (i.up) {
          let alive = false
          try {
            alive = isPong(await i.ev.request('PING'))
          } catch {
            alive = false
          }
          if (alive) return
          log.warn('hostapd stopped answering; reconnecting', { iface: i.cfg.name })
          i.up = false
        }
        await connect(i, true)
      } finally {
        i.busy = false
      }
    })
  }

  const ifaceOfLink = (link: string): Iface | undefined => ifaces.find((i) => link === i.cfg.name || (i.cfg.perStaVif === true && link.startsWith(`${i.cfg.name}.sta`)))

  return {
    name: 'hostapd',
    async start() {
      if (running) return
      running = true
      events.reopen()
      await Promise.all(ifaces.map((i) => serial(i, async () => void (await connect(i, false)))))
      pinger = setInterval(() => ifaces.forEach(tick), init.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS)
    },
    async stop() {
      if (!running && !pinger) return
      running = false
      events.close()
      if (pinger) clearInterval(pinger)
      pinger = null
      await Promise.all(
        ifaces.map(async (i) => {
          await i.chain
          // Polite: otherwise hostapd keeps sending to our dead path until it gives up on it.
          if (i.up) await i.ev.request('DETACH', 200).catch(() => undefined)
          i.ev.close()
          i.req.close()
          i.up = false
        }),
      )
    },
    onEvent(fn) {
      return events.on(fn)
    },
    async present(q: PresenceQuery) {
      const i = ifaceOfLink(q.link)
      if (!i) return false
      const known = [...i.stations.values()].filter((f) => f.link === q.link && (q.mac === undefined || f.mac === q.mac))
      if (q.mac === undefined || !i.up) return known.length > 0
      try {
        const sta = await queryStation(i, q.mac)
        return sta !== null && isAuthorized(sta) && linkOf(i, sta) === q.link
      } catch (e) {
        // hostapd briefly away (restarting): our last knowledge is the best answer.
        log.debug('presence query failed; using the last known state', { iface: i.cfg.name, mac: q.mac, error: (e as Error).message })
        return known.length > 0
      }
    },
    async attached() {
      return ifaces.flatMap((i) => [...i.stations.values()])
    },
    async teardown(q: PresenceQuery) {
      const how = init.teardown ?? 'deauthenticate'
      const i = ifaceOfLink(q.link)
      if (!i || !q.mac || how === 'none' || !i.up) return
      const cmd = `${how === 'deauthenticate' ? 'DEAUTHENTICATE' : 'DISASSOCIATE'} ${q.mac}`
      try {
        const r = await i.req.request(cmd)
        log.info('station torn down', { iface: i.cfg.name, mac: q.mac, command: cmd.split(' ')[0], reply: r.trim() })
      } catch (e) {
        log.warn('station teardown failed', { iface: i.cfg.name, mac: q.mac, error: (e as Error).message })
      }
    },
  }
}

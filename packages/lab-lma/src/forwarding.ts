/**
 * The lab LMA's end of the data plane (RFC 5213 §5.6.1): the same @pmip6/dataplane the MAG
 * uses, driven by the runner's binding events. A binding's prefixes are routed into the tunnel
 * to its MAG; a handoff moves them to the new MAG's tunnel; the tunnel goes with its last MN.
 */
import { DataPlane, type LogFn } from '@pmip6/dataplane'
import type { LmaDataplaneConfig } from './config'
import type { BindingEvent, LmaHandle } from './lma'
import type { Logger } from './logger'

export interface LmaForwarding {
  readonly dataplane: DataPlane
  /** Waits for the changes handed over so far. */
  idle(): Promise<void>
  close(): Promise<void>
}

export async function startLmaForwarding(handle: LmaHandle, address: string, cfg: LmaDataplaneConfig, log: Logger): Promise<LmaForwarding> {
  const logFn: LogFn = (level, msg, fields) => log[level](msg, fields ?? {})
  const dp = await DataPlane.open({
    role: 'lma',
    self: address,
    backend: cfg.backend,
    table: cfg.table,
    rulePriority: cfg.rulePriority,
    maxTunnels: cfg.maxTunnels,
    ...(cfg.pathMtu !== undefined ? { pathMtu: cfg.pathMtu } : {}),
    log: logFn,
  })
  const failed = (ev: BindingEvent) => (e: unknown) => log.error('lma forwarding change failed', { mnId: ev.mnId, event: ev.type, error: e instanceof Error ? e.message : String(e) })
  const onBinding = (ev: BindingEvent): void => {
    switch (ev.type) {
      case 'binding-created':
      case 'binding-moved':
        dp.up({ id: ev.mnId, link: '', prefixes: ev.prefixes, peer: ev.mag }).catch(failed(ev))
        return
      case 'binding-updated':
        // §5.3.5: a de-registered binding forwards nothing while it waits to be deleted.
        if (ev.reason === 'deregistered') dp.down(ev.mnId).catch(failed(ev))
        else dp.up({ id: ev.mnId, link: '', prefixes: ev.prefixes, peer: ev.mag }).catch(failed(ev))
        return
      case 'binding-deleted':
        dp.down(ev.mnId).catch(failed(ev))
        return
    }
  }
  handle.events.on('binding', onBinding)
  return {
    dataplane: dp,
    idle: () => dp.idle(),
    async close() {
      handle.events.off('binding', onBinding)
      await dp.close()
    },
  }
}

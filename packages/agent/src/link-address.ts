/**
 * Executes the core's link-address-up/-down commands (RFC 5213 §6.8, §6.9.1.2 item 15): the
 * LMA-supplied link-local router address goes on the MN's access link through rtnetlink, with
 * the kernel's DAD, and the outcome comes back to the core as a `link-address` event; the core
 * sends no RA from the address before that event says 'ready'. Commands for one (link, address)
 * run in order, so an up followed by a down (the MN left during DAD) ends with the address gone.
 */
import type { LinkAddressOps } from '@pmip6/dataplane'
import type { LinkAddressEvent } from '@pmip6/core'
import type { Logger } from '@pmip6/driver-api'
import type { Counters } from './stats'

export type LinkAddressReport = Omit<LinkAddressEvent, 'type' | 'at'>

export class LinkAddressExecutor {
  private readonly chains = new Map<string, Promise<void>>()
  /** Number of the last command given per (link, address): an up superseded by a later command reports nothing. */
  private readonly latest = new Map<string, number>()
  private issued = 0
  private readonly warnedDadOff = new Set<string>()
  private closed = false

  /** `ops` null: no kernel to configure (an in-memory I/O); every address is ready at once. */
  constructor(
    private readonly ops: LinkAddressOps | null,
    private readonly report: (r: LinkAddressReport) => void,
    private readonly log: Logger,
    private readonly counters: Counters,
  ) {}

  up(link: string, address: string): void {
    this.counters.inc('link-address.up')
    const ops = this.ops
    if (ops === null) {
      this.report({ link, address, result: 'ready' })
      return
    }
    const n = this.mark(link, address)
    // Only the newest command for the address speaks for it: an up followed by a down (and
    // perhaps an up again) must not tell the core 'ready' while the down is still to run.
    const current = () => !this.closed && this.latest.get(`${link} ${address}`) === n
    this.chain(link, address, async () => {
      const started = Date.now()
      try {
        const r = await ops.add(link, address)
        if (r.dadOff && !this.warnedDadOff.has(link)) {
          this.warnedDadOff.add(link)
          this.log.warn('DAD is off on this access link: a router address the MN already uses cannot be detected (RFC 5213 §6.9.1.2 item 15)', { link })
        }
        this.counters.inc(`link-address.${r.result}`)
        const fields = { link, address, dadMs: Date.now() - started }
        if (r.result === 'ready') this.log.info('router address up', fields)
        else this.log.warn('router address in use on the link (DAD failed); removed', fields)
        if (current()) this.report({ link, address, result: r.result })
      } catch (e) {
        const reason = e instanceof Error ? e.message : String(e)
        this.counters.inc('link-address.failed')
        this.log.error('router address could not be configured', { link, address, error: reason })
        if (current()) this.report({ link, address, result: 'failed', reason })
      }
    })
  }

  down(link: string, address: string): void {
    this.counters.inc('link-address.down')
    const ops = this.ops
    if (ops === null) return
    this.mark(link, address)
    this.chain(link, address, async () => {
      try {
        await ops.del(link, address)
        this.log.info('router address down', { link, address })
      } catch (e) {
        this.counters.inc('link-address.down-failed')
        this.log.warn('router address could not be removed', { link, address, error: e instanceof Error ? e.message : String(e) })
      }
    })
  }

  /** Resolves when every command handed over so far has run. */
  async idle(): Promise<void> {
    while (this.chains.size > 0) await Promise.allSettled([...this.chains.values()])
  }

  /** Waits for what is under way (no event is reported after this), then closes the socket. */
  async close(): Promise<void> {
    this.closed = true
    await this.idle()
    this.ops?.close()
  }

  private mark(link: string, address: string): number {
    const n = ++this.issued
    this.latest.set(`${link} ${address}`, n)
    return n
  }

  private chain(link: string, address: string, f: () => Promise<void>): void {
    const key = `${link} ${address}`
    const next = (this.chains.get(key) ?? Promise.resolve()).then(f)
    this.chains.set(key, next)
    void next.then(() => {
      if (this.chains.get(key) !== next) return
      this.chains.delete(key)
      this.latest.delete(key)
    })
  }
}

/**
 * The narrow view of the core that its section files (bul, registration, pba, home-link,
 * router-address, scenario-b, inflight) work through.
 */
import type { Core } from './core'

/**
 * What a section of the core sees of it: the state it reads and writes, the command sink (`out`),
 * the time of the event being handled (`now`) and the shared plumbing (counters, timers, state
 * changes). A Pick of the class, so a member a section starts to use must be named here.
 */
export type MagContext = Pick<
  Core,
  | 'arm'
  | 'blocked'
  | 'byLink'
  | 'byLinkMac'
  | 'byMn'
  | 'byRef'
  | 'bySeq'
  | 'cBindingAccepted'
  | 'cPbaAccepted'
  | 'cPbaReceived'
  | 'cPbuSent'
  | 'cPbuSentByHi'
  | 'cPbuSentRefresh'
  | 'cPresenceQuery'
  | 'changeState'
  | 'clockUnsynced'
  | 'defaultTunnelMtu'
  | 'delist'
  | 'disarm'
  | 'effectiveMode'
  | 'enlist'
  | 'findMn'
  | 'greNext'
  | 'greUsed'
  | 'hnpOwner'
  | 'inFlight'
  | 'inc'
  | 'isShared'
  | 'lastFound'
  | 'lastSweep'
  | 'linkCfg'
  | 'linkMtu'
  | 'llPrng'
  | 'now'
  | 'out'
  | 'overrides'
  | 'paced'
  | 'pool'
  | 'prng'
  | 'routerAddrs'
  | 's'
  | 'sameAddr'
  | 'seqCounter'
  | 'setLmaState'
  | 'slab'
  | 'store'
  | 'tunnelMtu'
>

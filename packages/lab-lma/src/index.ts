/**
 * @pmip6/lab-lma: a small RFC 5213 §5 Local Mobility Anchor for labs, tests and benchmarks
 * (a peer for the MAG, not the product). See lma-core.ts for what it implements and leaves out.
 */
export * from './lma-core'
export * from './prefix-pool'
export * from './ipv4-pool'
export * from './config'
export * from './control'
export * from './transport'
export * from './logger'
export * from './lma'
export { lmaCommand, runLmaCli } from './cli'
export * from './forwarding'

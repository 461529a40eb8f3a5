/** The `policy:` section of the config file, validated (config.ts reads it). */
import type { AddressConfig } from '@pmip6/core'
import type { AttributeMatch } from './profile'

export type PolicySource = 'file' | 'radius' | 'radius-then-file'
export const POLICY_SOURCES: readonly PolicySource[] = ['file', 'radius', 'radius-then-file']

export interface RadiusServerConfig {
  readonly address: string
  readonly port: number
  /** The shared secret is read from this file (never inline in the config). */
  readonly secretFile: string
}

export interface AccountingConfig {
  readonly servers: readonly RadiusServerConfig[]
  /** Interim-Update every so many seconds (RFC 2866, RFC 2869 §5.16); 0: none. */
  readonly interimIntervalS: number
}

export interface DasClientConfig {
  readonly address: string
  readonly secretFile: string
}

export interface DasConfig {
  /** host:port or [v6]:port the Dynamic Authorization Server listens on (RFC 5176 §3: port 3799). */
  readonly listen: string
  /** Who may send Disconnect/CoA-Requests, each with its own secret. */
  readonly clients: readonly DasClientConfig[]
}

export interface RadiusPolicyConfig {
  readonly servers: readonly RadiusServerConfig[]
  readonly timeoutMs: number
  readonly retries: number
  readonly deadTimeMs: number
  /** Cache time of a profile whose Accept has no Session-Timeout, seconds. */
  readonly cacheTtlS: number
  /** First wait before asking again for an MN held aaa-unreachable; doubles up to retryMaxMs. */
  readonly retryInitialMs: number
  readonly retryMaxMs: number
  /** MNs waiting for an answer (or held) at most; more attaches are refused and counted. */
  readonly maxPending: number
  readonly nasIdentifier?: string
  /** 'none': Service-Type Call-Check, no password; 'user-name': User-Password = User-Name (MAC auth style). */
  readonly userPassword: 'none' | 'user-name'
  /** Answers must carry a valid Message-Authenticator (RFC 3579 §3.2). */
  readonly requireMessageAuthenticator: boolean
  readonly hostMode?: AttributeMatch
  readonly addressConfig: AddressConfig
  readonly accounting?: AccountingConfig
  readonly das?: DasConfig
}

export interface PolicyConfig {
  readonly source: PolicySource
  readonly radius?: RadiusPolicyConfig
}

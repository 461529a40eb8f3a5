/**
 * `mag config check FILE`: validates a MAG (or, with --lma, a lab LMA) configuration the way
 * the daemon does at start, without touching the system, and lists every problem by path.
 *
 * `mag ipsec-config --config FILE`: RFC 5213 §4 requires the signalling between MAG and LMA
 * to be protected by IPsec ESP in transport mode. This writes the strongSwan (swanctl.conf)
 * configuration for it: one IKEv2 connection per LMA the profiles name, a CHILD_SA in
 * transport mode whose traffic selectors cover the Mobility Header (protocol 135) between
 * the MAG's address and the LMA's, and the matching file for the LMA side.
 */
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import type { Command } from 'commander'
import { ConfigError, loadConfig, type AgentConfig } from '@pmip6/agent'
import { ConfigError as LmaConfigError, loadConfigFile } from '@pmip6/lab-lma'
import { CliError } from './daemon-commands'

/** IPPROTO_MH (RFC 6275 §6.1): what the SPD entries of RFC 5213 §4 select. */
const IPPROTO_MH = 135
/**
 * Kernel policy priority of the MH policies (lower wins). charon computes its own from the
 * selectors (about 268,000 for these), and passthrough policies it installs elsewhere come
 * before that: its bypass-lan plugin gives every locally attached subnet one (about 134,000),
 * and a MAG and an LMA on one transport subnet then exchanged plaintext MH in both directions,
 * which the MAG took. A fixed priority above every computed one keeps ESP required for MH
 * between the two addresses, whatever else is loaded; an operator's own policies can still
 * come first with a value below it.
 */
export const MH_POLICY_PRIORITY = 1000
/**
 * Dead peer detection interval. Without one, dpd_action never fires: after the peer's charon
 * restarted (its SAs gone), this side kept sending MH into an SA nobody could decrypt until the
 * SA's own rekey, tens of minutes. With it the stale IKE_SA is declared dead and the trap policy
 * negotiates a fresh one on the next PBU (the MAG retransmits until then).
 */
export const DEFAULT_DPD_DELAY_S = 30

/** `radius (2 servers, accounting, das)`: where profiles come from, in a word or three. */
function policyOf(c: AgentConfig): string {
  const p = c.policy
  if (!p || p.source === 'file' || !p.radius) return 'file'
  const r = p.radius
  return `${p.source} (${r.servers.length} server${r.servers.length === 1 ? '' : 's'}${r.accounting ? ', accounting' : ''}${r.das ? ', das' : ''})`
}

export interface IpsecOptions {
  /** 'psk' generates a fresh pre-shared key per LMA; 'pubkey' expects certificates in swanctl's x509 folders. */
  readonly auth: 'psk' | 'pubkey'
  readonly espProposals: string
  readonly ikeProposals: string
  /** Dead peer detection interval in seconds (default DEFAULT_DPD_DELAY_S). */
  readonly dpdDelayS?: number
  /** For tests: a fixed key source. */
  readonly random?: (n: number) => Buffer
}

export interface IpsecFiles {
  /** swanctl.conf for the MAG. */
  readonly mag: string
  /** swanctl.conf for each LMA, by LMA address. */
  readonly lmas: Record<string, string>
}

const connName = (a: string, b: string): string => `pmip6-${a}-${b}`.replace(/[:.]/g, '_')

function child(local: string, remote: string, esp: string): string {
  return [
    `    children {`,
    `      pmip6-mh {`,
    `        # RFC 5213 §4: ESP in transport mode for the Mobility Header between MAG and LMA`,
    `        # (PBU, PBA, Heartbeat). The selectors name protocol ${IPPROTO_MH} only, so the tunnelled`,
    `        # user traffic is not affected. Policies in both directions (in: ESP required, a`,
    `        # plaintext MH from the peer is dropped by the kernel; out: trapped until the SA is`,
    `        # up) at a fixed priority, so no passthrough policy for the subnet (bypass-lan) wins.`,
    `        mode = transport`,
    `        priority = ${MH_POLICY_PRIORITY}`,
    `        policies = yes`,
    `        local_ts = ${local}/128[${IPPROTO_MH}]`,
    `        remote_ts = ${remote}/128[${IPPROTO_MH}]`,
    `        esp_proposals = ${esp}`,
    `        start_action = trap`,
    `        dpd_action = trap`,
    `        close_action = trap`,
    `      }`,
    `    }`,
  ].join('\n')
}

function connection(local: string, remote: string, o: IpsecOptions): string {
  const auth = o.auth === 'psk' ? 'psk' : 'pubkey'
  return [
    `  ${connName(local, remote)} {`,
    `    version = 2`,
    `    local_addrs = ${local}`,
    `    remote_addrs = ${remote}`,
    `    proposals = ${o.ikeProposals}`,
    `    # Dead peer detection: a peer whose charon restarted is noticed, and the trap policy`,
    `    # negotiates new SAs on the next PBU (dpd_action = trap below).`,
    `    dpd_delay = ${o.dpdDelayS ?? DEFAULT_DPD_DELAY_S}s`,
    `    local {`,
    `      auth = ${auth}`,
    `      id = ${local}`,
    `    }`,
    `    remote {`,
    `      auth = ${auth}`,
    `      id = ${remote}`,
    `    }`,
    child(local, remote, o.espProposals),
    `  }`,
  ].join('\n')
}

function secret(a: string, b: string, key: string): string {
  return [`  ike-${connName(a, b)} {`, `    id-1 = ${a}`, `    id-2 = ${b}`, `    secret = 0s${key}`, `  }`].join('\n')
}

/** The LMAs the MAG talks to: every profile's LMA, in order of first appearance. */
export function lmasOf(cfg: AgentConfig): string[] {
  const out: string[] = []
  for (const p of cfg.core.profiles ?? []) if (p.lma && !out.includes(p.lma)) out.push(p.lma)
  const unknown = cfg.core.unknownMn
  if (unknown && typeof unknown === 'object' && 'profile' in unknown && unknown.profile.lma && !out.includes(unknown.profile.lma)) out.push(unknown.profile.lma)
  return out
}

export function ipsecConfig(cfg: AgentConfig, o: IpsecOptions): IpsecFiles {
  const lmas = lmasOf(cfg)
  if (lmas.length === 0) throw new CliError('no LMA in the configuration (profiles[].lma): nothing to protect')
  const rnd = o.random ?? randomBytes
  const keys = new Map(lmas.map((l) => [l, rnd(32).toString('base64')]))
  const header = (who: string) =>
    [
      `# strongSwan swanctl.conf for ${who}, written by \`mag ipsec-config\`.`,
      `# RFC 5213 §4: MAG-LMA signalling protected by IPsec ESP (transport mode).`,
      `# Load with: swanctl --load-all (or --file <this file>: credentials are read from the folders beside it).`,
      ...(o.auth === 'pubkey'
        ? [
            `# Certificates: each end's own in x509/, its private key in private/ (or pkcs8/, ecdsa/, rsa/),`,
            `# the CA that signed the peer's in x509ca/. Each certificate carries its end's address as a`,
            `# subjectAltName (IP): the identities below are those addresses.`,
          ]
        : []),
    ].join('\n')
  const mag = [
    header(`the MAG ${cfg.address}`),
    'connections {',
    ...lmas.map((l) => connection(cfg.address, l, o)),
    '}',
    ...(o.auth === 'psk' ? ['secrets {', ...lmas.map((l) => secret(cfg.address, l, keys.get(l)!)), '}'] : []),
    '',
  ].join('\n')
  const lmaFiles: Record<string, string> = {}
  for (const l of lmas) {
    lmaFiles[l] = [
      header(`the LMA ${l} (its side of the MAG ${cfg.address})`),
      'connections {',
      connection(l, cfg.address, o),
      '}',
      ...(o.auth === 'psk' ? ['secrets {', secret(l, cfg.address, keys.get(l)!), '}'] : []),
      '',
    ].join('\n')
  }
  return { mag, lmas: lmaFiles }
}

export function addConfigCommands(program: Command): void {
  const config = program.command('config').description('configuration tools')
  config
    .command('check')
    .description('validate a configuration file as the daemon would at start; lists every problem by path')
    .argument('<file>', 'YAML or JSON configuration')
    .option('--lma', 'the file is a lab LMA configuration')
    .action((file: string, o: { lma?: boolean }) => {
      try {
        if (o.lma) {
          const c = loadConfigFile(file)
          process.stdout.write(`${file}: ok (lab LMA ${c.address})\n`)
          return
        }
        const c = loadConfig(file)
        const links = Object.keys(c.core.links ?? {})
        process.stdout.write(
          `${file}: ok (MAG ${c.address}, ${(c.core.profiles ?? []).length} profiles, links ${links.join(', ') || '-'}, drivers ${Object.keys(c.drivers).join(', ') || '-'}, LMAs ${lmasOf(c).join(', ') || '-'}, policy ${policyOf(c)})\n`,
        )
      } catch (e) {
        if (e instanceof ConfigError || e instanceof LmaConfigError) throw new CliError(`${file}: ${e.message}`)
        throw new CliError(`${file}: ${(e as Error).message}`)
      }
    })

  program
    .command('ipsec-config')
    .description('write strongSwan configuration protecting MAG-LMA signalling (RFC 5213 §4)')
    .requiredOption('--config <file>', 'the MAG configuration (its address and the LMAs of its profiles)')
    .option('--auth <kind>', 'psk (a fresh key per LMA) or pubkey (certificates)', 'psk')
    .option('--esp <proposals>', 'ESP proposals', 'aes256gcm16-ecp384')
    .option('--ike <proposals>', 'IKE proposals', 'aes256gcm16-prfsha384-ecp384')
    .option('--dpd-delay <seconds>', 'dead peer detection interval', String(DEFAULT_DPD_DELAY_S))
    .option('--out <prefix>', 'write <prefix>mag.conf and <prefix>lma-<address>.conf instead of printing')
    .action((o: { config: string; auth: string; esp: string; ike: string; dpdDelay: string; out?: string }) => {
      if (o.auth !== 'psk' && o.auth !== 'pubkey') throw new CliError('--auth must be psk or pubkey')
      const dpdDelayS = Number(o.dpdDelay)
      if (!Number.isInteger(dpdDelayS) || dpdDelayS < 1 || dpdDelayS > 3600) throw new CliError(`--dpd-delay must be a whole number of seconds from 1 to 3600: ${o.dpdDelay}`)
      let cfg: AgentConfig
      try {
        cfg = loadConfig(o.config)
      } catch (e) {
        throw new CliError(e instanceof Error ? e.message : String(e))
      }
      const files = ipsecConfig(cfg, { auth: o.auth, espProposals: o.esp, ikeProposals: o.ike, dpdDelayS })
      if (o.out === undefined) {
        process.stdout.write(`# ---- MAG (${cfg.address}): /etc/swanctl/conf.d/pmip6.conf\n${files.mag}`)
        for (const [l, text] of Object.entries(files.lmas)) process.stdout.write(`\n# ---- LMA (${l}): /etc/swanctl/conf.d/pmip6.conf\n${text}`)
        return
      }
      // Keys inside: readable by root only.
      writeFileSync(`${o.out}mag.conf`, files.mag, { mode: 0o600 })
      for (const [l, text] of Object.entries(files.lmas)) writeFileSync(`${o.out}lma-${l.replace(/:/g, '_')}.conf`, text, { mode: 0o600 })
      process.stdout.write(`wrote ${o.out}mag.conf and ${Object.keys(files.lmas).length} LMA file(s)\n`)
    })
}

/**
 * `mag lab demo`: the README's main job. Brings the lab up, registers an MN, pings the
 * correspondent through the MAG-LMA tunnel, hands the MN over to mag2 while a ping runs,
 * switches a second MN to Scenario B host mode (RFC 6612) and shows it get the local prefix,
 * detaches everyone and tears the lab down, printing a timeline: what happened, when, and how
 * long each step took. Every step is bounded in time; the lab goes down whatever happens.
 */
import { spawn } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { controlRequest } from '@pmip6/agent'
import { likelyCause, type DaemonLog } from './diagnose'
import { labDown, labMoveL2, labUp, readState } from './lab'
import { startLabCapture, type LabCapture } from './capture'
import { PLAN, accessLink, mnId, mnMac, names, type MagName } from './plan'
import { ipn, missingTools, nsExec, waitFor } from './sh'

/**
 * busybox udhcpc's script (`-s`): it configures what the MAG's DHCPv4 server gave, as Debian's
 * default script would (address with its mask, default route via the router), and takes it
 * away on deconfig. The demo's MNs and the IPv4 tests use it.
 */
export const UDHCPC_SCRIPT = '#!/bin/sh\ncase "$1" in\n  bound|renew) ip -4 addr flush dev "$interface"; ip -4 addr add "$ip/$mask" dev "$interface"; ip -4 route replace default via "$router" dev "$interface" ;;\n  deconfig) ip -4 addr flush dev "$interface" ;;\nesac\nexit 0\n'

/** Writes UDHCPC_SCRIPT to `path`, executable (udhcpc's `-s`). */
export function writeUdhcpcScript(path: string): void {
  writeFileSync(path, UDHCPC_SCRIPT)
  chmodSync(path, 0o755)
}

/** What the demo runs in the MNs' namespaces besides the daemons, and the Debian package of each. */
export const DEMO_TOOLS: Readonly<Record<string, string>> = { ip: 'iproute2', ping: 'iputils-ping', udhcpc: 'udhcpc' }

export interface DemoOptions {
  readonly name: string
  /** Leave the lab up at the end (to look around with `mag lab status`). */
  readonly keep?: boolean
  readonly out?: (line: string) => void
  /** Capture every lab link from lab up to the last detach into this pcapng file. */
  readonly pcap?: string
}

export interface DemoStep {
  readonly at: number
  readonly tookMs: number
  readonly what: string
  readonly ok: boolean
  readonly detail?: string
}

export interface DemoResult {
  readonly ok: boolean
  readonly steps: readonly DemoStep[]
}

interface BindingRow {
  mnId: string
  state: string
  mode: string
  prefixes: string[]
}

interface AddrRow {
  local: string
  prefixlen: number
  scope: string
  preferred_life_time?: number
}

const ms = (t: number): string => `${t.toFixed(t < 10 ? 2 : t < 100 ? 1 : 0)} ms`

/**
 * Longest wait of one step. A step takes milliseconds on an idle machine; the bound is for a
 * loaded one (two CPU hogs and other work on two cores) and only matters when something is wrong.
 */
export const STEP_TIMEOUT_MS = 20_000

const replies = (pingOut: string): number => (pingOut.match(/bytes from/g) ?? []).length

/**
 * What a user needs when a step failed: the daemon log line that most likely explains it, and
 * the commands to look further. Without --keep the lab (and its logs) goes away, so the logs are
 * copied to a temporary directory first.
 */
export function explainFailure(name: string, sinceMs: number, copyLogs: boolean): string[] {
  let logs: Record<string, string>
  try {
    logs = readState(name).logs
  } catch {
    return [`the lab did not come up; \`mag lab up --name ${name}\` shows why, \`mag lab down --name ${name}\` cleans up`]
  }
  let keptIn: string | null = null
  if (copyLogs) {
    try {
      keptIn = mkdtempSync(join(tmpdir(), `mag-lab-${name}-logs-`))
      for (const p of Object.values(logs)) if (existsSync(p)) copyFileSync(p, join(keptIn, basename(p)))
    } catch {
      keptIn = null
    }
  }
  const where = (p: string): string => (keptIn !== null ? join(keptIn, basename(p)) : p)
  const daemonLogs: DaemonLog[] = Object.entries(logs).map(([node, p]) => {
    let text = ''
    try {
      text = readFileSync(p, 'utf8')
    } catch {
      // gone already
    }
    return { node, path: where(p), text }
  })
  const cause = likelyCause(daemonLogs, sinceMs)
  const lines = cause
    ? [`likely cause (${cause.why}), ${cause.node} log ${cause.path}:`, `  ${cause.line}`]
    : [`no daemon logged an error, a warning or a refused registration; their logs: ${daemonLogs.map((l) => l.path).join(', ')}`]
  lines.push(
    `look further: \`mag lab demo --keep --name ${name}\` leaves the lab up after a failure; then \`mag lab status --name ${name}\`,`,
    `  \`mag lab ctl mag1 --name ${name} -- bindings --json\`, \`mag lab ctl mag1 --name ${name} -- status\`, and \`mag lab down --name ${name}\` at the end`,
  )
  if (keptIn !== null) lines.push(`the daemons' logs are kept in ${keptIn}`)
  return lines
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const out = o.out ?? ((l: string) => process.stdout.write(l + '\n'))
  const steps: DemoStep[] = []
  const t0 = performance.now()
  const startedAt = Date.now()
  let failed = false
  const n = names(o.name)

  async function step<T>(what: string, fn: () => Promise<T> | T, detail?: (v: T) => string): Promise<T | undefined> {
    if (failed) return undefined
    const start = performance.now()
    try {
      const v = await fn()
      const took = performance.now() - start
      const d = detail ? detail(v) : undefined
      steps.push({ at: start - t0, tookMs: took, what, ok: true, ...(d ? { detail: d } : {}) })
      out(`${`+${((start - t0) / 1000).toFixed(3)}s`.padStart(9)}  ${what.padEnd(52)} ${ms(took).padStart(10)}${d ? `  ${d}` : ''}`)
      return v
    } catch (e) {
      failed = true
      const took = performance.now() - start
      const msg = e instanceof Error ? e.message : String(e)
      steps.push({ at: start - t0, tookMs: took, what, ok: false, detail: msg })
      out(`${`+${((start - t0) / 1000).toFixed(3)}s`.padStart(9)}  ${what.padEnd(52)} ${ms(took).padStart(10)}  FAILED: ${msg}`)
      return undefined
    }
  }

  const sock = (mag: MagName): string => readState(o.name).sockets[mag]!
  const bindings = async (mag: MagName): Promise<BindingRow[]> => (await controlRequest(sock(mag), { cmd: 'bindings' })) as BindingRow[]
  const bound = async (mag: MagName, id: string): Promise<BindingRow | undefined> => (await bindings(mag)).find((b) => b.mnId === id && b.state === 'registered')
  const addrs = (i: number): AddrRow[] => ((JSON.parse(ipn(n.mn(i), '-6', '-j', 'addr', 'show', 'dev', 'eth0')) as { addr_info?: AddrRow[] }[])[0]?.addr_info ?? []).filter((a) => a.scope === 'global')
  const usable = (i: number, prefix: string): AddrRow | undefined => addrs(i).find((a) => a.local.startsWith(prefix.replace(/::\/\d+$/, ':')) && a.preferred_life_time !== 0)
  const router = (i: number): string | undefined => (JSON.parse(ipn(n.mn(i), '-6', '-j', 'route', 'show', 'default')) as { gateway?: string }[])[0]?.gateway
  /** `count` pings to the CN; every one must be answered (the lab loses nothing once forwarding is up). */
  const ping = (i: number, count: number): string => {
    let r: string
    try {
      r = nsExec(n.mn(i), 'ping', ['-6', '-n', '-c', String(count), '-i', '0.2', '-W', '2', PLAN.cn], { timeoutMs: 5000 + count * 2000 })
    } catch (e) {
      throw new Error(`no reply: ${(e as Error).message.split('\n').find((l) => /transmitted/.test(l)) ?? (e as Error).message}`)
    }
    const m = /(\d+) packets transmitted, (\d+) received/.exec(r)
    if (!m || m[2] !== String(count)) throw new Error(`${m ? `${m[2]}/${m[1]}` : 'no'} replies`)
    return `${/rtt [^=]+= ([\d.]+)\//.exec(r)?.[1] ?? '?'} ms min rtt, ${m[2]}/${m[1]} replies`
  }
  /** IPv4 pings to the CN (RFC 5844: through the same tunnel, IPv4-in-IPv6). */
  const ping4 = (i: number, count: number): string => {
    let r: string
    try {
      r = nsExec(n.mn(i), 'ping', ['-4', '-n', '-c', String(count), '-i', '0.2', '-W', '2', PLAN.cn4], { timeoutMs: 5000 + count * 2000 })
    } catch (e) {
      throw new Error(`no reply: ${(e as Error).message.split('\n').find((l) => /transmitted/.test(l)) ?? (e as Error).message}`)
    }
    const m = /(\d+) packets transmitted, (\d+) received/.exec(r)
    if (!m || m[2] !== String(count)) throw new Error(`${m ? `${m[2]}/${m[1]}` : 'no'} replies`)
    return `${/rtt [^=]+= ([\d.]+)\//.exec(r)?.[1] ?? '?'} ms min rtt, ${m[2]}/${m[1]} replies`
  }
  // A missing tool is said before anything starts, not as a failed step half-way through.
  const missing = missingTools(DEMO_TOOLS)
  if (missing.length > 0) {
    out(`the demo needs ${missing.map((m) => `${m.cmd} (Debian package ${m.pkg})`).join(', ')}, not found on PATH`)
    out(`install it: apt-get install -y --no-install-recommends ${missing.map((m) => m.pkg).join(' ')}   (./scripts/demo.sh does this)`)
    return { ok: false, steps }
  }

  /** An unmodified busybox udhcpc in the MN's namespace; its script configures what it got. */
  const dhcpDir = mkdtempSync(join(tmpdir(), 'mag-demo-dhcp4-'))
  const dhcpScript = join(dhcpDir, 'udhcpc.sh')
  writeUdhcpcScript(dhcpScript)
  const dhcp4 = (i: number): string => {
    nsExec(n.mn(i), 'udhcpc', ['-i', 'eth0', '-n', '-q', '-f', '-t', '5', '-T', '2', '-A', '1', '-s', dhcpScript], { timeoutMs: 60_000 })
    const a = (JSON.parse(ipn(n.mn(i), '-4', '-j', 'addr', 'show', 'dev', 'eth0')) as { addr_info?: { local: string; prefixlen: number }[] }[])[0]?.addr_info?.[0]
    if (!a) throw new Error('no IPv4 address after udhcpc')
    return `${a.local}/${a.prefixlen}`
  }
  /** The MAG's data plane holds this many bindings (its forwarding is installed), when it has one. */
  const forwarded = async (mag: MagName): Promise<number | null> => {
    const st = (await controlRequest(sock(mag), { cmd: 'status' })) as { dataplane?: { state?: { bindings?: number } } }
    return st.dataplane?.state?.bindings ?? null
  }

  let capture: LabCapture | undefined
  out(`PMIPv6 MAG demo in lab "${o.name}": LMA ${PLAN.lma}, mag1 ${PLAN.mags.mag1}, mag2 ${PLAN.mags.mag2}, CN ${PLAN.cn}`)
  try {
    // mn1 is dual-stack (RFC 5844): an IPv6 home prefix and an IPv4 home address, the latter from
    // the MAG's DHCPv4 server; the MAGs carry IPv4 through the same tunnels.
    const labCfg = {
      profiles: [
        { mnId: mnId(1), lma: PLAN.lma, macs: [mnMac(1)], stack: 'dual' },
        { mnId: mnId(2), lma: PLAN.lma, macs: [mnMac(2)] },
      ],
      dataplane: { ipv4: true },
      dhcp4: { enabled: true },
    }
    await step('lab up: LMA, two MAGs, CN, 2 MNs in namespaces', () => labUp({ name: o.name, mns: 2, quiet: true, magConfig: labCfg }), (s) => `${s.namespaces.length} namespaces, data plane ${s.dataplane}`)
    if (o.pcap) capture = await step('capture every lab link (dumpcap in each namespace)', () => startLabCapture(o.name, o.pcap!))

    // 1. Registration: attach -> PBU -> PBA -> RA with the HNP -> SLAAC in the MN's kernel.
    await step(`mn1 attaches to mag1 (${mnMac(1)})`, () => controlRequest(sock('mag1'), { cmd: 'attach', mn: mnId(1), link: accessLink(1), mac: mnMac(1), att: 'wifi', hint: 'new' }))
    // The LMA sends its PBA once its route is in place; the MAG's own forwarding follows the PBA.
    const b1 = await step(
      'mag1: PBU -> LMA, PBA accepted, binding registered',
      () =>
        waitFor(
          'mn1 registered on mag1, its forwarding installed',
          async () => {
            const b = await bound('mag1', mnId(1))
            if (b === undefined) return undefined
            const f = await forwarded('mag1')
            return f === null || f >= 1 ? b : undefined
          },
          STEP_TIMEOUT_MS,
          2,
        ),
      (b) => `HNP ${b.prefixes.join(', ')}`,
    )
    const hnp = b1?.prefixes[0] ?? ''
    // Without a data plane (the lab's MAGs run signalling only) user traffic cannot flow: the
    // ping steps say so instead of failing, and everything else is shown as it is.
    const dp = !failed && readState(o.name).dataplane !== 'none'
    const noDp = (what: string): void => {
      if (!failed) out(`${''.padStart(9)}  ${what.padEnd(52)} ${'-'.padStart(10)}  not run: the lab runs without a data plane (signalling only)`)
    }
    const a1 = await step('mn1 kernel: address from its HNP by SLAAC', () => waitFor('mn1 SLAAC address', () => usable(1, hnp), STEP_TIMEOUT_MS), (a) => `${a.local}/${a.prefixlen}, default router ${router(1) ?? '-'}`)
    if (dp) await step('mn1 pings the CN through the MAG-LMA tunnel', () => ping(1, 3), (r) => r)
    else noDp('mn1 pings the CN through the MAG-LMA tunnel')
    // RFC 5844: the dual-stack MN's own DHCPv4 client gets the IPv4 home address of its binding.
    const v4a = dp ? await step('mn1 (dual-stack): IPv4 home address by DHCPv4 (udhcpc)', () => dhcp4(1), (a) => `${a}, default router ${PLAN.homePool4.replace(/\.0\/24$/, '.1')}`) : undefined
    if (dp) await step('mn1 pings the CN over IPv4 (IPv4-in-IPv6 tunnel)', () => ping4(1, 3), (r) => r)

    // 2. Handoff: layer-2 move to mag2 while a ping runs; same address, same default router.
    let pinger: ReturnType<typeof spawn> | undefined
    let pingOut = ''
    if (dp)
      await step('mn1 starts pinging the CN every 20 ms', () => {
        pinger = spawn('ip', ['netns', 'exec', n.mn(1), 'ping', '-6', '-n', '-i', '0.02', '-w', '60', PLAN.cn], { stdio: ['ignore', 'pipe', 'ignore'] })
        pinger.stdout?.on('data', (c: Buffer) => (pingOut += c.toString()))
        // Flowing before the move: a few replies in.
        return waitFor('5 replies before the handoff', () => (replies(pingOut) >= 5 ? true : undefined), STEP_TIMEOUT_MS, 10)
      })
    await step('handoff: mn1 moves from mag1 to mag2 (layer 2)', () => labMoveL2(o.name, 1, 'mag2'))
    await step('mag1 detaches mn1 (de-registration, HI 4)', () => controlRequest(sock('mag1'), { cmd: 'detach', mn: mnId(1) }))
    await step('mag2 attaches mn1 (HI 3: handoff between MAGs)', () => controlRequest(sock('mag2'), { cmd: 'attach', mn: mnId(1), link: accessLink(1), mac: mnMac(1), att: 'wifi', hint: 'same-interface' }))
    await step('mag2: binding moved at the LMA, same HNP advertised', () => waitFor('mn1 registered on mag2', () => bound('mag2', mnId(1)), STEP_TIMEOUT_MS, 2), (b) => `HNP ${b.prefixes.join(', ')}${b.prefixes[0] === hnp ? ' (unchanged)' : ' (CHANGED)'}`)
    await step('mn1 keeps its address and default router', () => {
      const a = usable(1, hnp)
      if (!a || a.local !== a1?.local) throw new Error(`mn1 lost ${a1?.local ?? 'its address'}`)
      const r = router(1)
      if (r !== PLAN.fixedLinkLocal) throw new Error(`default router is ${r ?? 'gone'}`)
      return `${a.local} via ${r}`
    }, (s) => s)
    if (!dp) noDp('ping across the handoff')
    else await step('ping across the handoff', async () => {
      // Flowing again after it: 25 more replies (half a second at 20 ms) once mn1 is bound on mag2.
      const atMove = replies(pingOut)
      await waitFor('25 replies after the handoff', () => (replies(pingOut) >= atMove + 25 ? true : undefined), STEP_TIMEOUT_MS, 10)
      pinger?.kill('SIGINT')
      await waitFor('ping summary', () => (/(\d+) packets transmitted, (\d+) received/.exec(pingOut) ? true : undefined), STEP_TIMEOUT_MS)
      const m = /(\d+) packets transmitted, (\d+) received/.exec(pingOut)!
      const sent = Number(m[1])
      const got = Number(m[2])
      if (got === 0) throw new Error(`no replies out of ${sent}`)
      return { sent, got }
    }, (r) => `${r.got}/${r.sent} replies, ${r.sent - r.got} lost (${(r.sent - r.got) * 20} ms gap at 20 ms spacing)`)
    pinger?.kill('SIGKILL')
    if (dp) {
      await step('mn1 keeps its IPv4 address: udhcpc again, now at mag2', () => {
        const a = dhcp4(1)
        if (a !== v4a) throw new Error(`IPv4 address ${a} instead of ${v4a ?? '-'}`)
        return a
      }, (a) => `${a} (unchanged)`)
      await step('mn1 pings the CN over IPv4 from mag2', () => ping4(1, 3), (r) => r)
    }

    // 3. Scenario B (RFC 6612): a Mobile IPv6-capable host gets a local prefix, no tunnel.
    await step('mn2 is switched to host mode (Scenario B) on mag1', () => controlRequest(sock('mag1'), { cmd: 'policy', mn: mnId(2), mode: 'host' }))
    await step(`mn2 attaches to mag1 (${mnMac(2)})`, () => controlRequest(sock('mag1'), { cmd: 'attach', mn: mnId(2), link: accessLink(2), mac: mnMac(2), att: 'wifi', hint: 'new' }))
    const b2 = await step('mag1 advertises a local prefix, no PBU', () => waitFor('mn2 served locally', async () => (await bindings('mag1')).find((b) => b.mnId === mnId(2) && b.mode === 'host' && b.prefixes.length > 0), STEP_TIMEOUT_MS), (b) => `local prefix ${b.prefixes.join(', ')} from ${PLAN.localPools.mag1}`)
    await step('mn2 kernel: address from the local prefix', () => waitFor('mn2 local address', () => usable(2, b2?.prefixes[0] ?? '::/0'), STEP_TIMEOUT_MS), (a) => `${a.local}/${a.prefixlen}`)
    if (dp) await step('mn2 pings the CN, routed locally by mag1', () => ping(2, 3), (r) => r)
    else noDp('mn2 pings the CN, routed locally by mag1')

    // 4. Everyone leaves.
    await step('detach mn1 (mag2) and mn2 (mag1)', async () => {
      await controlRequest(sock('mag2'), { cmd: 'detach', mn: mnId(1) })
      await controlRequest(sock('mag1'), { cmd: 'detach', mn: mnId(2) })
      await waitFor('bindings gone', async () => ((await bindings('mag1')).length + (await bindings('mag2')).length === 0 ? true : undefined), STEP_TIMEOUT_MS)
    })
    if (capture) {
      const c = capture
      capture = undefined
      await step('capture written', () => c.stop(), (r) => `${r.file}: ${r.packets} packets on ${r.interfaces.length} interfaces; \`mag trace ${r.file}\``)
    }
  } finally {
    rmSync(dhcpDir, { recursive: true, force: true })
    // A failed step leaves the capture running: keep what it has, it shows the failure.
    if (capture) await capture.stop().then((r) => out(`capture of the failed run: ${r.file} (${r.packets} packets)`), () => undefined)
    if (failed) {
      // The one line of the daemons' logs that most likely says why, and where to look further.
      for (const l of explainFailure(o.name, startedAt, !o.keep)) out(l)
      if (!o.keep) await labDown(o.name, { quiet: true }).catch(() => undefined)
    } else if (!o.keep) {
      await step('lab down: daemons stopped, namespaces removed', () => labDown(o.name, { quiet: true }), (r) => `${r.namespaces} namespaces, ${r.processes} processes`)
    }
  }
  const ok = !failed && steps.every((s) => s.ok)
  out(ok ? `demo finished in ${((performance.now() - t0) / 1000).toFixed(2)} s` : 'demo FAILED at the step marked above')
  return { ok, steps }
}

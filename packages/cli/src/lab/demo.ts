/**
 * `mag lab demo`: the README's main job. Brings the lab up, registers an MN, pings the
 * correspondent through the MAG-LMA tunnel, hands the MN over to mag2 while a ping runs,
 * switches a second MN to Scenario B host mode (RFC 6612) and shows it get the local prefix,
 * detaches everyone and tears the lab down, printing a timeline: what happened, when, and how
 * long each step took. Every step is bounded in time; the lab goes down whatever happens.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { controlRequest } from '@pmip6/agent'
import { labDown, labMoveL2, labUp, readState } from './lab'
import { startLabCapture, type LabCapture } from './capture'
import { PLAN, accessLink, mnId, mnMac, names, type MagName } from './plan'
import { ipn, nsExec, sleep, waitFor } from './sh'

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

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const out = o.out ?? ((l: string) => process.stdout.write(l + '\n'))
  const steps: DemoStep[] = []
  const t0 = performance.now()
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
  const ping = (i: number, count: number): string => nsExec(n.mn(i), 'ping', ['-6', '-n', '-c', String(count), '-i', '0.2', '-W', '1', PLAN.cn], { timeoutMs: 5000 + count * 1000 })

  let capture: LabCapture | undefined
  out(`PMIPv6 MAG demo in lab "${o.name}": LMA ${PLAN.lma}, mag1 ${PLAN.mags.mag1}, mag2 ${PLAN.mags.mag2}, CN ${PLAN.cn}`)
  try {
    await step('lab up: LMA, two MAGs, CN, 2 MNs in namespaces', () => labUp({ name: o.name, mns: 2, quiet: true }), (s) => `${s.namespaces.length} namespaces, data plane ${s.dataplane}`)
    if (o.pcap) capture = await step('capture every lab link (dumpcap in each namespace)', () => startLabCapture(o.name, o.pcap!))

    // 1. Registration: attach -> PBU -> PBA -> RA with the HNP -> SLAAC in the MN's kernel.
    await step(`mn1 attaches to mag1 (${mnMac(1)})`, () => controlRequest(sock('mag1'), { cmd: 'attach', mn: mnId(1), link: accessLink(1), mac: mnMac(1), att: 'wifi', hint: 'new' }))
    const b1 = await step('mag1: PBU -> LMA, PBA accepted, binding registered', () => waitFor('mn1 registered on mag1', () => bound('mag1', mnId(1)), 10_000, 2), (b) => `HNP ${b.prefixes.join(', ')}`)
    const hnp = b1?.prefixes[0] ?? ''
    // Without a data plane (the lab's MAGs run signalling only) user traffic cannot flow: the
    // ping steps say so instead of failing, and everything else is shown as it is.
    const dp = !failed && readState(o.name).dataplane !== 'none'
    const noDp = (what: string): void => {
      if (!failed) out(`${''.padStart(9)}  ${what.padEnd(52)} ${'-'.padStart(10)}  not run: the lab runs without a data plane (signalling only)`)
    }
    const a1 = await step('mn1 kernel: address from its HNP by SLAAC', () => waitFor('mn1 SLAAC address', () => usable(1, hnp), 10_000), (a) => `${a.local}/${a.prefixlen}, default router ${router(1) ?? '-'}`)
    if (dp) await step('mn1 pings the CN through the MAG-LMA tunnel', () => ping(1, 3), (r) => /rtt [^=]+= ([\d.]+)\//.exec(r)?.[1] + ' ms min rtt, 3/3 replies')
    else noDp('mn1 pings the CN through the MAG-LMA tunnel')

    // 2. Handoff: layer-2 move to mag2 while a ping runs; same address, same default router.
    let pinger: ReturnType<typeof spawn> | undefined
    let pingOut = ''
    if (dp)
      await step('mn1 starts pinging the CN every 20 ms', () => {
      pinger = spawn('ip', ['netns', 'exec', n.mn(1), 'ping', '-6', '-n', '-i', '0.02', '-w', '30', PLAN.cn], { stdio: ['ignore', 'pipe', 'ignore'] })
      pinger.stdout?.on('data', (c: Buffer) => (pingOut += c.toString()))
      return sleep(300)
    })
    await step('handoff: mn1 moves from mag1 to mag2 (layer 2)', () => labMoveL2(o.name, 1, 'mag2'))
    await step('mag1 detaches mn1 (de-registration, HI 4)', () => controlRequest(sock('mag1'), { cmd: 'detach', mn: mnId(1) }))
    await step('mag2 attaches mn1 (HI 3: handoff between MAGs)', () => controlRequest(sock('mag2'), { cmd: 'attach', mn: mnId(1), link: accessLink(1), mac: mnMac(1), att: 'wifi', hint: 'same-interface' }))
    await step('mag2: binding moved at the LMA, same HNP advertised', () => waitFor('mn1 registered on mag2', () => bound('mag2', mnId(1)), 10_000, 2), (b) => `HNP ${b.prefixes.join(', ')}${b.prefixes[0] === hnp ? ' (unchanged)' : ' (CHANGED)'}`)
    await step('mn1 keeps its address and default router', () => {
      const a = usable(1, hnp)
      if (!a || a.local !== a1?.local) throw new Error(`mn1 lost ${a1?.local ?? 'its address'}`)
      const r = router(1)
      if (r !== PLAN.fixedLinkLocal) throw new Error(`default router is ${r ?? 'gone'}`)
      return `${a.local} via ${r}`
    }, (s) => s)
    if (!dp) noDp('ping across the handoff')
    else await step('ping across the handoff', async () => {
      await sleep(1000)
      pinger?.kill('SIGINT')
      await waitFor('ping summary', () => (/(\d+) packets transmitted, (\d+) received/.exec(pingOut) ? true : undefined), 5000)
      const m = /(\d+) packets transmitted, (\d+) received/.exec(pingOut)!
      const sent = Number(m[1])
      const got = Number(m[2])
      if (got === 0) throw new Error(`no replies out of ${sent}`)
      return { sent, got }
    }, (r) => `${r.got}/${r.sent} replies, ${r.sent - r.got} lost (${(r.sent - r.got) * 20} ms gap at 20 ms spacing)`)
    pinger?.kill('SIGKILL')

    // 3. Scenario B (RFC 6612): a Mobile IPv6-capable host gets a local prefix, no tunnel.
    await step('mn2 is switched to host mode (Scenario B) on mag1', () => controlRequest(sock('mag1'), { cmd: 'policy', mn: mnId(2), mode: 'host' }))
    await step(`mn2 attaches to mag1 (${mnMac(2)})`, () => controlRequest(sock('mag1'), { cmd: 'attach', mn: mnId(2), link: accessLink(2), mac: mnMac(2), att: 'wifi', hint: 'new' }))
    const b2 = await step('mag1 advertises a local prefix, no PBU', () => waitFor('mn2 served locally', async () => (await bindings('mag1')).find((b) => b.mnId === mnId(2) && b.mode === 'host' && b.prefixes.length > 0), 10_000), (b) => `local prefix ${b.prefixes.join(', ')} from ${PLAN.localPools.mag1}`)
    await step('mn2 kernel: address from the local prefix', () => waitFor('mn2 local address', () => usable(2, b2?.prefixes[0] ?? '::/0'), 10_000), (a) => `${a.local}/${a.prefixlen}`)
    if (dp) await step('mn2 pings the CN, routed locally by mag1', () => ping(2, 3), (r) => /rtt [^=]+= ([\d.]+)\//.exec(r)?.[1] + ' ms min rtt, 3/3 replies')
    else noDp('mn2 pings the CN, routed locally by mag1')

    // 4. Everyone leaves.
    await step('detach mn1 (mag2) and mn2 (mag1)', async () => {
      await controlRequest(sock('mag2'), { cmd: 'detach', mn: mnId(1) })
      await controlRequest(sock('mag1'), { cmd: 'detach', mn: mnId(2) })
      await waitFor('bindings gone', async () => ((await bindings('mag1')).length + (await bindings('mag2')).length === 0 ? true : undefined), 10_000)
    })
    if (capture) {
      const c = capture
      capture = undefined
      await step('capture written', () => c.stop(), (r) => `${r.file}: ${r.packets} packets on ${r.interfaces.length} interfaces; \`mag trace ${r.file}\``)
    }
  } finally {
    // A failed step leaves the capture running: keep what it has, it shows the failure.
    if (capture) await capture.stop().then((r) => out(`capture of the failed run: ${r.file} (${r.packets} packets)`), () => undefined)
    if (failed) {
      // What the daemons said is the quickest way to the cause; the logs go with the lab.
      for (const node of ['lma', 'mag1', 'mag2']) {
        try {
          const log = readState(o.name).logs[node]
          if (log) out(`--- last lines of ${node} (${log})\n${readFileSync(log, 'utf8').trimEnd().split('\n').slice(-8).join('\n')}`)
        } catch {
          // the lab never came up
        }
      }
      if (!o.keep) await labDown(o.name, { quiet: true }).catch(() => undefined)
    } else if (!o.keep) {
      await step('lab down: daemons stopped, namespaces removed', () => labDown(o.name, { quiet: true }), (r) => `${r.namespaces} namespaces, ${r.processes} processes`)
    }
  }
  const ok = !failed && steps.every((s) => s.ok)
  out(ok ? `demo finished in ${((performance.now() - t0) / 1000).toFixed(2)} s` : 'demo FAILED at the step marked above')
  return { ok, steps }
}

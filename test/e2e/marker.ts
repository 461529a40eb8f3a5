// The sync marker of a capture, shared by the lab's (lab-harness.ts: Capture.sync, LiveFields.sync)
// and the kernel tier's (test/kernel/helpers.ts: Capture.sync). Small on purpose: the kernel tier
// loads it inside User-Mode Linux, where each module costs.
import { spawnSync } from 'node:child_process'

export interface MarkerPace {
  /** Bound of one `ip netns exec ... ping` (an exec costs far more in User-Mode Linux). */
  readonly pingTimeoutMs: number
  /** How often `seen()` is asked. */
  readonly everyMs: number
}
/**
 * The capture filter that lets sync markers through: ICMPv6 echo requests to ff02::1 (nothing in
 * the captures of either sends those but a marker; echo replies to them are unicast and stay out;
 * a MAG's ND socket never sees them).
 */
export const MARKER_FILTER = 'icmp6 and ip6[40] == 128 and dst host ff02::1'

const LAB_PACE: MarkerPace = { pingTimeoutMs: 5000, everyMs: 10 }

/**
 * Sends a marker (an echo request to ff02::1 carrying `token`) on `iface` in `ns`, again each
 * second, until `seen()` finds it (bounded; a `seen()` that throws is asked again until then).
 * -W 1: someone on the link may answer, nobody need; the marker is the request itself.
 */
export async function markerSeen(what: string, ns: string, iface: string, token: string, seen: () => boolean, timeoutMs: number, pace: MarkerPace = LAB_PACE): Promise<void> {
  const until = Date.now() + timeoutMs
  let lastSent = 0
  let last: unknown = null
  for (;;) {
    let threw = false
    try {
      if (seen()) return
    } catch (e) {
      last = e
      threw = true
    }
    if (!threw && Date.now() - lastSent >= 1000) {
      spawnSync('ip', ['netns', 'exec', ns, 'ping', '-6', '-n', '-q', '-c', '1', '-W', '1', '-s', '24', '-p', token, '-I', iface, 'ff02::1'], { stdio: 'ignore', timeout: pace.pingTimeoutMs })
      lastSent = Date.now()
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`)
    await new Promise((r) => setTimeout(r, pace.everyMs))
  }
}

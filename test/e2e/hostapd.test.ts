// End to end with a real hostapd (issue 6): Debian hostapd 2.10, `driver=wired` with 802.1X
// and its internal EAP server (EAP-MD5), on the MAG's access veth; `wpa_supplicant -Dwired` is
// the station in the MN's namespace. Station authenticates -> AP-STA-CONNECTED -> our hostapd
// driver attaches the MN under its 802.1X identity -> PBU -> the lab LMA accepts -> the MN's
// kernel configures an address from its home prefix by SLAAC. `wpa_cli logoff` -> detach ->
// de-registration. Then hostapd is killed and restarted while the station is associated, and
// the MAG daemon is restarted while it is associated. (hostapd with nl80211 needs Wi-Fi
// hardware this machine lacks; the control interface and events are the same.)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { NsLab, sleep, waitUntil, within, type Daemon } from '@pmip6/testkit'
import { describeLab, toolPrereqs } from './lab-harness'

const P = `hd${process.pid % 100000}`
const DIR = `/run/mag-test/${P}`
const LINK = 'wlan0'
const IDENTITY = 'mn1@example.org'
const HOME = /^2001:db8:100:/

function describeE2e(title: string, body: () => void): void {
  describeLab(title, body, toolPrereqs(['hostapd', 'wpa_supplicant', 'wpa_cli'], 'hostapd wpasupplicant', ['drivers/hostapd/dist/index.js']))
}

interface MagBinding {
  mnId: string
  link: string
  state: string
  prefixes: string[]
}
interface LmaBinding {
  mnId: string
  state: string
  prefixes: string[]
}

/** A child process in a namespace, its output in a log file. */
function nsSpawn(ns: string, cmd: readonly string[], log: string): ChildProcess {
  const fd = openSync(log, 'a')
  try {
    return spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', fd, fd] })
  } finally {
    closeSync(fd)
  }
}

async function kill(c: ChildProcess | null, sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return
  const exited = new Promise<void>((r) => c.once('exit', () => r()))
  c.kill(sig)
  await within(exited, 3000)
  if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
}

describeE2e('hostapd driver end to end (real hostapd + wpa_supplicant)', () => {
  let lab: NsLab | null = null
  let lma: Daemon
  let mag: Daemon
  let hapd: ChildProcess | null = null
  let supp: ChildProcess | null = null
  const ctrlDir = join(DIR, 'hostapd')
  const staDir = join(DIR, 'sta')

  const startHostapd = async (): Promise<void> => {
    hapd = nsSpawn(lab!.ns.mag, ['hostapd', join(DIR, 'hostapd.conf')], join(DIR, 'hostapd.log'))
    await waitUntil('hostapd control socket', () => {
      if (hapd!.exitCode !== null) throw new Error(`hostapd exited: ${readFileSync(join(DIR, 'hostapd.log'), 'utf8')}`)
      return existsSync(join(ctrlDir, LINK))
    }, 10_000, 50)
  }
  const startSupplicant = async (): Promise<void> => {
    supp = nsSpawn(lab!.ns.mn(1), ['wpa_supplicant', '-Dwired', '-i', 'eth0', '-c', join(DIR, 'sta.conf')], join(DIR, 'sta.log'))
    await waitUntil('wpa_supplicant control socket', () => existsSync(join(staDir, 'eth0')), 10_000, 50)
  }
  const wpaCli = (...args: string[]) => lab!.exec(lab!.ns.mn(1), ['wpa_cli', '-p', staDir, '-i', 'eth0', ...args])
  const magBindings = async () => (await mag.request({ cmd: 'bindings' }))['result'] as MagBinding[]
  const lmaBindings = async () => (await lma.request({ cmd: 'bindings' }))['bindings'] as LmaBinding[]
  const registered = () => waitUntil('the MAG binding to be registered', async () => (await magBindings()).find((b) => b.mnId === IDENTITY && b.state === 'registered'), 90_000, 100)
  const counters = async () => ((await mag.request({ cmd: 'status' }))['result'] as { counters: Record<string, number> }).counters
  /**
   * The station authenticates again. wpa_supplicant's wired EAPOL machine sometimes sits in
   * CONNECTING after a logon (a real station retries on timers of tens of seconds): nudge it,
   * harder each time, bounded.
   */
  const reconnect = async (): Promise<void> => {
    const until = Date.now() + 60_000
    wpaCli('logon')
    for (let n = 1; Date.now() < until; n++) {
      for (let k = 0; k < 40; k++) {
        if ((await magBindings()).some((b) => b.mnId === IDENTITY && b.state === 'registered')) return
        await sleep(100)
      }
      if (n % 3 === 1) wpaCli('reassociate')
      else if (n % 3 === 2) {
        wpaCli('logoff')
        await sleep(200)
        wpaCli('logon')
      } else {
        await kill(supp)
        await startSupplicant()
      }
    }
    throw new Error('the station did not come back within 60 s')
  }

  beforeAll(async () => {
    mkdirSync(DIR, { recursive: true, mode: 0o700 })
    lab = NsLab.create({ prefix: P, mns: 1, access: { kind: 'per-mn', name: () => LINK }, stateDir: join(DIR, 'lab') })
    writeFileSync(join(DIR, 'eap_users'), `"${IDENTITY}" MD5 "secret"\n`)
    writeFileSync(
      join(DIR, 'hostapd.conf'),
      [`interface=${LINK}`, 'driver=wired', `ctrl_interface=${ctrlDir}`, 'ieee8021x=1', 'eapol_version=2', 'eap_server=1', `eap_user_file=${join(DIR, 'eap_users')}`, 'use_pae_group_addr=1', ''].join('\n'),
    )
    writeFileSync(
      join(DIR, 'sta.conf'),
      [`ctrl_interface=${staDir}`, 'ap_scan=0', 'network={', '  key_mgmt=IEEE8021X', '  eap=MD5', `  identity="${IDENTITY}"`, '  password="secret"', '  eapol_flags=0', '}', ''].join('\n'),
    )
    await startHostapd()
    lma = await lab.startLma()
    const cfg = lab.magConfig({ drivers: { hostapd: { interfaces: [{ name: LINK, identity: 'dot1x' }], ctrlDir, clientDir: DIR, pingIntervalMs: 300, requestTimeoutMs: 500 } } }, [{ mnId: IDENTITY, lma: '2001:db8:ffff::2' }])
    mag = await lab.startMag(cfg)
    await startSupplicant()
  }, 240_000) // daemons, hostapd and pppd start slowly on a loaded machine

  afterAll(async () => {
    await kill(supp)
    await kill(hapd)
    await lab?.down()
    spawnSync('rm', ['-rf', DIR])
  }, 240_000)

  test('the station authenticates, the LMA accepts, the MN gets its home prefix by SLAAC', async () => {
    const b = await registered()
    expect(b.link).toBe(LINK)
    expect(b.prefixes[0]).toMatch(HOME)
    const lb = await waitUntil('the LMA binding', async () => (await lmaBindings()).find((x) => x.mnId === IDENTITY), 40_000)
    expect(lb.prefixes).toEqual(b.prefixes)
    const prefix = b.prefixes[0]!.replace(/::\/64$/, ':')
    const addr = await waitUntil('a SLAAC address from the home prefix on the MN', () => lab!.mnGlobals(1).find((a) => a.startsWith(prefix)), 20_000, 200)
    expect(addr.startsWith(prefix)).toBe(true)
    expect((await counters())['driver.hostapd.attached']).toBeGreaterThanOrEqual(1)
  }, 240_000) // daemons, hostapd and pppd start slowly on a loaded machine

  test('wpa_cli logoff detaches the MN and the binding is de-registered', async () => {
    await registered()
    expect(wpaCli('logoff').out).toMatch(/OK/)
    await waitUntil('the MAG binding to go', async () => !(await magBindings()).some((b) => b.mnId === IDENTITY), 40_000)
    // The LMA keeps the entry MinDelayBeforeBCEDelete (RFC 5213 §5.3.5) after accepting the de-registration.
    await waitUntil('the LMA binding to be de-registered', async () => !(await lmaBindings()).some((b) => b.mnId === IDENTITY && b.state === 'active'), 40_000)
    expect((await counters())['driver.hostapd.detached']).toBeGreaterThanOrEqual(1)
    await reconnect()
  }, 300_000)

  test('hostapd killed and restarted: the driver re-attaches and the state follows hostapd', async () => {
    await registered()
    await kill(hapd, 'SIGKILL')
    await startHostapd()
    // The new hostapd knows no station: the driver reconciles and the MN is detached ('lost').
    await waitUntil('the binding to go after the restart', async () => !(await magBindings()).some((b) => b.mnId === IDENTITY), 60_000)
    // The station authenticates again with the new hostapd: events flow on the new socket.
    await reconnect()
    expect(mag.logText()).toMatch(/hostapd stopped answering; reconnecting/)
    expect(lab!.exec(lab!.ns.mag, ['hostapd_cli', '-p', ctrlDir, '-i', LINK, 'all_sta']).out.toLowerCase()).toContain(NsLab.mnMac(1))
  }, 300_000)

  test('MAG daemon crashes and restarts while the station is associated: it registers again from the station list', async () => {
    await registered()
    // A crash, not a clean stop: a de-registering stop would also tear the station's link down.
    await mag.stop(1000, 'SIGKILL')
    const cfg = JSON.parse(readFileSync(join(DIR, 'lab', 'mag.json'), 'utf8')) as Record<string, unknown>
    mag = await lab!.startMag(cfg)
    const b = await registered()
    expect(b.link).toBe(LINK)
    expect((await counters())['driver.hostapd.attached']).toBe(1)
  }, 240_000) // daemons, hostapd and pppd start slowly on a loaded machine
})

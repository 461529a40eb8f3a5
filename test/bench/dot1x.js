'use strict'
// Real 802.1X on a lab's shared access link for the hostapd benchmarks (hostapd-attach,
// load-latency's hostapd phase): hostapd 2.10 (driver=wired, internal EAP-MD5 server) in the
// MAG's namespace and wired wpa_supplicant stations in the MNs' namespaces, each started,
// driven with wpa_cli and nudged when its EAPOL state machine sticks. Needs the built testkit.
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { sleep } = require('./lib')
const { stopChild } = require('./wire-clock')

/**
 * hostapd on `link` in the MAG's namespace with one EAP-MD5 user per station (password
 * "secret"); use_pae_group_addr=0, so its EAP-Success names the station. Resolves once its
 * control socket is there; the child is pushed on `children` for the caller to stop.
 */
async function startHostapd(lab, { dir, link, stations, identity, children }) {
  const { waitUntil } = require('../../packages/testkit/dist')
  const ctrlDir = path.join(dir, 'hostapd')
  fs.writeFileSync(path.join(dir, 'eap_users'), Array.from({ length: stations }, (_, k) => `"${identity(k + 1)}" MD5 "secret"\n`).join(''))
  fs.writeFileSync(path.join(dir, 'hostapd.conf'), [`interface=${link}`, 'driver=wired', `ctrl_interface=${ctrlDir}`, 'ieee8021x=1', 'eapol_version=2', 'eap_server=1', `eap_user_file=${path.join(dir, 'eap_users')}`, 'use_pae_group_addr=0', ''].join('\n'))
  const hlog = fs.openSync(path.join(dir, 'hostapd.log'), 'a')
  const hapd = spawn('ip', ['netns', 'exec', lab.ns.mag, 'hostapd', path.join(dir, 'hostapd.conf')], { stdio: ['ignore', hlog, hlog] })
  fs.closeSync(hlog)
  children.push(hapd)
  await waitUntil('hostapd', () => fs.existsSync(path.join(ctrlDir, link)), 10_000, 50)
  return { ctrlDir, child: hapd }
}

/**
 * Wired wpa_supplicant stations, station i in the lab's namespace mn(i) with the identity
 * identity(i): startSupplicant(i) (its child is pushed on `children`), cli(i, ...args) (wpa_cli),
 * and nudge(i, n) for a station stuck on its way to connected.
 */
function dot1xStations(lab, { dir, ctrlDir, link, identity, children }) {
  const { NsLab } = require('../../packages/testkit/dist')
  const staDir = (i) => path.join(dir, `sta${i}`)
  const cli = (i, ...a) => lab.exec(lab.ns.mn(i), ['wpa_cli', '-p', staDir(i), '-i', 'eth0', ...a])
  const supp = new Map()
  const startSupplicant = (i) => {
    const conf = path.join(dir, `sta${i}.conf`)
    fs.writeFileSync(conf, [`ctrl_interface=${staDir(i)}`, 'ap_scan=0', 'network={', '  key_mgmt=IEEE8021X', '  eap=MD5', `  identity="${identity(i)}"`, '  password="secret"', '  eapol_flags=0', '}', ''].join('\n'))
    const fd = fs.openSync(path.join(dir, `sta${i}.log`), 'a')
    const c = spawn('ip', ['netns', 'exec', lab.ns.mn(i), 'wpa_supplicant', '-Dwired', '-i', 'eth0', '-c', conf], { stdio: ['ignore', fd, fd] })
    fs.closeSync(fd)
    supp.set(i, c)
    children.push(c)
  }
  // wpa_supplicant's wired EAPOL state machine sometimes stays in CONNECTING after a logon (a
  // real station retries on its own timers, tens of seconds): the n-th nudge is harder each time.
  const nudge = async (i, n) => {
    if (n % 4 === 1) cli(i, 'logon')
    else if (n % 4 === 2) cli(i, 'reassociate')
    else if (n % 4 === 3) {
      lab.exec(lab.ns.mag, ['hostapd_cli', '-p', ctrlDir, '-i', link, 'deauthenticate', NsLab.mnMac(i)])
      cli(i, 'logoff')
      await sleep(200)
      cli(i, 'logon')
    } else {
      await stopChild(supp.get(i))
      startSupplicant(i)
    }
  }
  return { cli, startSupplicant, nudge, supp }
}

module.exports = { startHostapd, dot1xStations }

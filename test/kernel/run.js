#!/usr/bin/env node
'use strict'
// `npm run test:kernel [pattern...]`: the real-kernel tier. Boots User-Mode Linux once (Debian's
// `user-mode-linux`: a 6.1 kernel with ip6_tunnel, PPP and ESP, which this machine's kernel
// lacks) with the host's / as its read-only root, runs the *.ktest.ts files of test/kernel in
// one in-band jest inside it, and brings the results and the exit code back through a
// read-write hostfs folder. A watchdog kills the VM after --timeout seconds; the VM's folders
// go also on failure. With CI=true a missing UML is a failure, never a skip.
//
// Options: --timeout <s> (default 900), --json <file> (jest's JSON result, for test-all.sh),
// --mem <size> (default 1G); other words are jest test-path patterns.
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '../..')
/** Bound of one tshark run for the guest (see serveDissections). */
const DISSECT_TIMEOUT_MS = 300_000
const UML = '/usr/bin/linux.uml'
const MODULES = '/usr/lib/uml/modules'

function parseArgs(argv) {
  const o = { timeoutS: 900, json: null, mem: '1G', patterns: [] }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--timeout') o.timeoutS = Number(argv[++i])
    else if (a === '--json') o.json = path.resolve(argv[++i])
    else if (a === '--mem') o.mem = argv[++i]
    else o.patterns.push(a)
  }
  if (!Number.isFinite(o.timeoutS) || o.timeoutS <= 0) throw new Error('--timeout needs a positive number of seconds')
  return o
}

/** Why the tier cannot run here, or null. */
function prereqs() {
  if (!fs.existsSync(UML)) return `${UML} is missing (apt-get install user-mode-linux kmod)`
  if (!fs.existsSync(MODULES) || fs.readdirSync(MODULES).length === 0) return `${MODULES} has no kernel modules (user-mode-linux package)`
  if (spawnSync('insmod', ['-V'], { stdio: 'ignore' }).status !== 0) return 'insmod is missing (apt-get install kmod)'
  if (process.getuid && process.getuid() !== 0) return 'the tier needs root (network namespaces inside the VM run as the host user)'
  for (const f of ['packages/cli/dist/main.js', 'packages/rawsock/build/Release/rawsock.node']) {
    if (!fs.existsSync(path.join(ROOT, f))) return `${f} is missing: run npm ci and npm run build first`
  }
  return null
}

/**
 * Dissects, with the host's tshark, the pcaps the guest puts in `dir` (test/kernel/helpers.ts:
 * <id>.pcap in, <id>.pdml or <id>.err out, each written under a temporary name and renamed). The
 * guest's root is this host's /, so it is the same tshark with the same settings; run here, its
 * start-up does not cost the guest's one ptraced CPU a minute. Returns a function that stops it.
 */
function serveDissections(dir) {
  const busy = new Set()
  const answer = (id, name, body) => {
    const tmp = path.join(dir, `${id}.part`)
    fs.writeFileSync(tmp, body)
    fs.renameSync(tmp, path.join(dir, name))
  }
  const timer = setInterval(() => {
    let names
    try {
      names = fs.readdirSync(dir)
    } catch {
      return
    }
    for (const name of names) {
      if (!name.endsWith('.pcap') || busy.has(name)) continue
      busy.add(name)
      const id = name.slice(0, -'.pcap'.length)
      const pcap = path.join(dir, name)
      // The arguments of test/interop/tshark.ts dissect().
      const child = spawn('tshark', ['-n', '-r', pcap, '-T', 'pdml'], { stdio: ['ignore', 'pipe', 'pipe'] })
      const out = []
      let err = ''
      child.stdout.on('data', (c) => out.push(c))
      child.stderr.on('data', (c) => (err = (err + c).slice(-4000)))
      const kill = setTimeout(() => child.kill('SIGKILL'), DISSECT_TIMEOUT_MS)
      let done = false
      const finish = (code, why) => {
        if (done) return
        done = true
        clearTimeout(kill)
        try {
          if (code === 0) answer(id, `${id}.pdml`, Buffer.concat(out))
          else answer(id, `${id}.err`, `tshark on the host: ${why}: ${err.trim()}`)
          fs.rmSync(pcap, { force: true })
        } catch {
          // the work folder is gone: the VM has ended
        }
        busy.delete(name)
      }
      child.on('error', (e) => finish(null, e.message))
      child.on('close', (code, signal) => finish(code, `exit ${code ?? signal}`))
    }
  }, 100)
  return () => clearInterval(timer)
}

/**
 * Compiles the ktests the patterns select, and what they import, in a child process while the VM
 * boots (precompile.js); the guest waits for precompiled.json or precompiled.err in `out`.
 */
function startPrecompile(out, patterns) {
  const dir = __dirname
  const ktests = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ktest.ts'))
    .map((f) => path.join(dir, f))
    // jest's test-path patterns: case-insensitive regular expressions over the path.
    .filter((f) => patterns.length === 0 || patterns.some((p) => new RegExp(p, 'i').test(f)))
  const started = Date.now()
  const child = spawn(process.execPath, [path.join(dir, 'precompile.js'), path.join(out, 'precompiled.json'), ...ktests], { stdio: ['ignore', 'pipe', 'pipe'] })
  let text = ''
  child.stdout.on('data', (c) => (text += c))
  child.stderr.on('data', (c) => (text += c))
  const failed = (why) => {
    try {
      fs.writeFileSync(path.join(out, 'precompiled.err'), why)
    } catch {
      // the VM has ended
    }
  }
  child.on('error', (e) => failed(e.message))
  child.on('close', (code) => {
    if (code !== 0) {
      failed(text)
      console.warn(`kernel tier: precompiling on the host failed (the guest's ts-jest compiles instead): ${text.trim().split('\n').slice(-3).join(' / ')}`)
    } else console.log(`kernel tier: ${text.trim()} on the host in ${((Date.now() - started) / 1000).toFixed(1)} s (beside the boot)`)
  })
  return child
}

function main() {
  const opts = parseArgs(process.argv.slice(2))
  const why = prereqs()
  if (why !== null) {
    if (process.env.CI === 'true') {
      console.error(`kernel tier: ${why}; CI=true, so this is a failure, not a skip`)
      console.log('kernel tests: 0 passed, 1 failed')
      process.exit(1)
    }
    console.warn(`kernel tier SKIPPED: ${why}`)
    console.log('kernel tests: 0 passed, 0 failed, skipped')
    process.exit(0)
  }

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pmip6-kt-'))
  const out = path.join(work, 'out')
  const umlDir = path.join(work, 'uml')
  fs.mkdirSync(out)
  fs.mkdirSync(umlDir)
  const umid = `pmip6kt${process.pid}`
  fs.writeFileSync(path.join(out, 'args.json'), JSON.stringify({ patterns: opts.patterns }))
  fs.mkdirSync(path.join(out, 'dissect'))
  const cmdline = [
    `mem=${opts.mem}`,
    `umid=${umid}`,
    `uml_dir=${umlDir}`,
    'root=/dev/root',
    'rootfstype=hostfs',
    'rootflags=/',
    'ro',
    `init=${path.join(__dirname, 'init.sh')}`,
    'con=null',
    'con0=null,fd:1',
    'ssl=null',
    // 256 legacy ptys cost 7 s of boot; devpts is all pppd needs.
    'pty.legacy_count=0',
    'quiet',
    'loglevel=3',
    // Words with '=' that the kernel does not know reach init's environment.
    `KT_OUT=${out}`,
    `KT_REPO=${ROOT}`,
    `KT_CI=${process.env.CI === 'true' ? 'true' : 'false'}`,
  ]
  for (const w of cmdline) if (/\s/.test(w)) throw new Error(`kernel command line word with a space: ${w}`)

  const started = Date.now()
  // Its own process group, so the watchdog kills UML and every helper it forked.
  const vm = spawn(UML, cmdline, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  const precompiling = startPrecompile(out, opts.patterns)
  const stopDissections = serveDissections(path.join(out, 'dissect'))
  vm.stdout.pipe(process.stdout)
  vm.stderr.pipe(process.stderr)
  let timedOut = false
  const killVm = () => {
    try {
      process.kill(-vm.pid, 'SIGKILL')
    } catch {
      /* already gone */
    }
  }
  const watchdog = setTimeout(() => {
    timedOut = true
    console.error(`kernel tier: the VM ran longer than ${opts.timeoutS} s; killed`)
    killVm()
  }, opts.timeoutS * 1000)
  const onSignal = (sig) => {
    console.error(`kernel tier: ${sig}; killing the VM`)
    killVm()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  vm.on('exit', (code, signal) => {
    clearTimeout(watchdog)
    stopDissections()
    if (precompiling.exitCode === null) precompiling.kill('SIGKILL')
    // Helpers UML forked may outlive the main process for a moment.
    killVm()
    const seconds = ((Date.now() - started) / 1000).toFixed(1)
    let rc = null
    try {
      rc = Number(fs.readFileSync(path.join(out, 'rc'), 'utf8').trim())
    } catch {
      /* the guest never got to write it */
    }
    let report = null
    try {
      report = JSON.parse(fs.readFileSync(path.join(out, 'jest.json'), 'utf8'))
    } catch {
      /* jest did not finish */
    }
    if (report !== null && opts.json !== null) fs.writeFileSync(opts.json, JSON.stringify(report))
    let passed = 0
    let failed = 0
    if (report !== null) {
      console.log('\nkernel tier, per test (time inside UML):')
      for (const file of report.testResults) {
        const rel = path.relative(ROOT, file.name)
        if (file.assertionResults.length === 0 && file.status === 'failed') {
          failed++
          console.log(`  FAIL  ${rel}: ${(file.message || '').split('\n').find((l) => l.trim() !== '') || 'suite failed'}`)
        }
        for (const t of file.assertionResults) {
          const mark = t.status === 'passed' ? 'ok  ' : t.status === 'failed' ? 'FAIL' : 'skip'
          if (t.status === 'passed') passed++
          else if (t.status === 'failed') failed++
          console.log(`  ${mark}  ${((t.duration ?? 0) / 1000).toFixed(1).padStart(6)} s  ${rel} › ${t.fullName}`)
        }
      }
    }
    if (report !== null) {
      // Where the VM's time went: jest's start-up (to its first test file) and each file.
      const files = [...report.testResults].sort((a, b) => a.startTime - b.startTime)
      const read = (f) => {
        try {
          return JSON.parse(fs.readFileSync(path.join(out, f), 'utf8'))
        } catch {
          return null
        }
      }
      const t = read('guest-times.json')
      const st = read('transform-stats.json')
      if (t !== null && files.length > 0) {
        console.log(`kernel tier: guest.js ${((t.jest - t.guestJs) / 1000).toFixed(1)} s waiting for the host's TypeScript, jest start-up to its first file ${((files[0].startTime - t.jest) / 1000).toFixed(1)} s` + (st ? ` (modules: ${st.precompiled} precompiled on the host, ${st.tsJest} by ts-jest in the guest)` : ''))
      }
      console.log('kernel tier, per file: ' + files.map((f) => `${path.basename(f.name)} ${((f.endTime - f.startTime) / 1000).toFixed(0)} s`).join(', '))
    }
    let status = rc === null || Number.isNaN(rc) ? 1 : rc
    if (timedOut || report === null) status = status || 1
    if (report === null) failed = Math.max(failed, 1)
    const why2 = timedOut ? ' (watchdog)' : rc === null ? ` (no exit code from the guest; VM exit ${code ?? signal})` : ''
    console.log(`kernel tier: VM ran ${seconds} s, guest exit ${rc ?? 'none'}${why2}`)
    console.log(`kernel tests: ${passed} passed, ${failed} failed`)
    const artifacts = path.join(out, 'artifacts')
    if (status !== 0 && fs.existsSync(artifacts)) {
      const keep = path.join(os.tmpdir(), `pmip6-kt-artifacts-${process.pid}`)
      fs.cpSync(artifacts, keep, { recursive: true })
      console.log(`kernel tier: logs of the failed run kept in ${keep}`)
    }
    fs.rmSync(work, { recursive: true, force: true })
    process.exit(status)
  })
}

main()

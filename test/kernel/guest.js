'use strict'
// Runs inside the UML guest (init.sh stage 2, cwd = the repository): the kernel tier's jest,
// in band (one CPU), its JSON result into the host's result folder.
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const started = Date.now()
const out = process.env.KT_OUT
const { patterns } = JSON.parse(fs.readFileSync(path.join(out, 'args.json'), 'utf8'))
const jest = path.join(__dirname, '../../node_modules/jest/bin/jest.js')
/** How long the host may take to compile the TypeScript (run.js starts it beside the boot). */
const PRECOMPILE_WAIT_MS = 300_000

/** precompiled.json once the host has written it; null if it failed or took too long. */
async function precompiled() {
  const until = Date.now() + PRECOMPILE_WAIT_MS
  for (;;) {
    // Listed, not looked up by name: a hostfs name is only opened once it exists.
    const names = fs.readdirSync(out)
    if (names.includes('precompiled.json')) return path.join(out, 'precompiled.json')
    if (names.includes('precompiled.err')) return null
    if (Date.now() > until) {
      console.error(`kernel-tier: no precompiled TypeScript from the host after ${PRECOMPILE_WAIT_MS} ms; ts-jest compiles in the guest`)
      return null
    }
    await new Promise((r) => setTimeout(r, 100))
  }
}

async function main() {
  const table = await precompiled()
  const env = { ...process.env, FORCE_COLOR: '0', KT_PRECOMPILED_STATS: path.join(out, 'transform-stats.json') }
  if (table !== null) env.KT_PRECOMPILED = table
  // run.js dissects captures on the host (helpers.ts dissectPcap).
  if (fs.existsSync(path.join(out, 'dissect'))) env.KT_DISSECT = path.join(out, 'dissect')
  fs.writeFileSync(path.join(out, 'guest-times.json'), JSON.stringify({ guestJs: started, jest: Date.now() }))
  // Through pipes: the guest's console is a tty, and jest would redraw its progress lines on it.
  const c = spawn(process.execPath, [jest, '-c', path.join(__dirname, 'jest.config.js'), '--runInBand', '--ci', '--json', `--outputFile=${path.join(out, 'jest.json')}`, ...patterns], { stdio: ['ignore', 'pipe', 'pipe'], env })
  c.stdout.pipe(process.stdout)
  c.stderr.pipe(process.stderr)
  c.on('close', (code) => process.exit(code ?? 1))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})

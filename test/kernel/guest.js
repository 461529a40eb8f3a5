'use strict'
// Runs inside the UML guest (init.sh stage 2, cwd = the repository): the kernel tier's jest,
// in band (one CPU), its JSON result into the host's result folder.
const fs = require('node:fs')
const path = require('node:path')

const started = Date.now()
const out = process.env.KT_OUT
const { patterns } = JSON.parse(fs.readFileSync(path.join(out, 'args.json'), 'utf8'))
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
  Object.assign(process.env, {
    // jest in this process, one node start fewer (seconds here). The console is a tty: with TERM
    // dumb jest does not redraw progress lines on it (jest-util's isInteractive, read at load).
    TERM: 'dumb',
    FORCE_COLOR: '0',
    KT_PRECOMPILED_STATS: path.join(out, 'transform-stats.json'),
  })
  if (process.env.NODE_ENV === undefined) process.env.NODE_ENV = 'test' // as jest's bin sets it
  if (table !== null) process.env.KT_PRECOMPILED = table
  // run.js dissects captures on the host (helpers.ts dissectPcap).
  if (fs.existsSync(path.join(out, 'dissect'))) process.env.KT_DISSECT = path.join(out, 'dissect')
  fs.writeFileSync(path.join(out, 'guest-times.json'), JSON.stringify({ guestJs: started, jest: Date.now() }))
  // jest sets the exit code (and the VM's rc, through init.sh) once its run is over.
  await require('jest-cli').run(['-c', path.join(__dirname, 'jest.config.js'), '--runInBand', '--ci', '--json', `--outputFile=${path.join(out, 'jest.json')}`, ...patterns])
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})

'use strict'
// Runs inside the UML guest (init.sh stage 2, cwd = the repository): the kernel tier's jest,
// in band (one CPU), its JSON result into the host's result folder.
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const out = process.env.KT_OUT
const { patterns } = JSON.parse(fs.readFileSync(path.join(out, 'args.json'), 'utf8'))
const jest = path.join(__dirname, '../../node_modules/jest/bin/jest.js')

// Through pipes: the guest's console is a tty, and jest would redraw its progress lines on it.
const c = spawn(process.execPath, [jest, '-c', path.join(__dirname, 'jest.config.js'), '--runInBand', '--ci', '--json', `--outputFile=${path.join(out, 'jest.json')}`, ...patterns], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } })
c.stdout.pipe(process.stdout)
c.stderr.pipe(process.stderr)
c.on('close', (code) => process.exit(code ?? 1))

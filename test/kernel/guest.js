'use strict'
// Runs inside the UML guest (init.sh stage 2, cwd = the repository): the kernel tier's jest,
// in band (one CPU), its JSON result into the host's result folder.
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const out = process.env.KT_OUT
const { patterns } = JSON.parse(fs.readFileSync(path.join(out, 'args.json'), 'utf8'))
const jest = path.join(__dirname, '../../node_modules/jest/bin/jest.js')
const r = spawnSync(process.execPath, [jest, '-c', path.join(__dirname, 'jest.config.js'), '--runInBand', '--ci', '--json', `--outputFile=${path.join(out, 'jest.json')}`, ...patterns], { stdio: 'inherit', env: { ...process.env, FORCE_COLOR: '0' } })
process.exit(r.status ?? 1)

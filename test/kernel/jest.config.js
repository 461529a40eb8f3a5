'use strict'
// The real-kernel tier: run by test/kernel/guest.js inside User-Mode Linux, never by the
// host's jest (the root config ignores test/kernel/).
const path = require('node:path')
const root = path.resolve(__dirname, '../..')
const base = require(path.join(root, 'jest.config.js'))
const TS = '^.+\\.ts$'
/** @type {import('jest').Config} */
module.exports = {
  ...base,
  rootDir: root,
  roots: ['<rootDir>/test/kernel'],
  testMatch: ['**/test/kernel/**/*.ktest.ts'],
  // What the host compiled before boot, else ts-jest with the root config's options (transform.js).
  transform: { [TS]: [path.join(__dirname, 'transform.js'), base.transform[TS][1]] },
  // No transform cache: the guest's disk is a fresh tmpfs each boot, and each write is syscalls.
  cache: false,
  testTimeout: 120_000,
  haste: { enableSymlinks: false },
  watchman: false,
}

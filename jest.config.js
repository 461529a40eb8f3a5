'use strict'
const fs = require('node:fs')
const path = require('node:path')
// One jest run covers every workspace. Sources are transpiled by ts-jest without type
// checking (tsc -b and `npm run typecheck` do that), so tests start fast.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['packages', 'drivers', 'test'].filter((d) => fs.existsSync(path.join(__dirname, d))).map((d) => `<rootDir>/${d}`),
  testMatch: ['**/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }],
  },
  moduleNameMapper: {
    // driver-api is a package, not a driver: it must match before the driver-* pattern.
    '^@pmip6/driver-api$': '<rootDir>/packages/driver-api/src',
    '^@pmip6/driver-(.*)$': '<rootDir>/drivers/$1/src',
    '^@pmip6/(.*)$': '<rootDir>/packages/$1/src',
  },
  testTimeout: 30_000,
}

'use strict'
// One jest run covers every workspace. Sources are transpiled by ts-jest without type
// checking (tsc -b and `npm run typecheck` do that), so tests start fast.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/drivers', '<rootDir>/test'],
  testMatch: ['**/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }],
  },
  moduleNameMapper: {
    '^@pmip6/driver-(.*)$': '<rootDir>/drivers/$1/src',
    '^@pmip6/(.*)$': '<rootDir>/packages/$1/src',
  },
  testTimeout: 30_000,
}

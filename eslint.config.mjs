// Lint rules: strict TypeScript, and the pure packages (wire, core, dhcp6-relay codec)
// may not reach for I/O, timers or the wall clock (design.md, "Style").
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const pureRestrictions = {
  'no-restricted-imports': ['error', {
    patterns: [{ group: ['node:*', 'fs', 'net', 'dgram', 'child_process', 'os', 'http', 'https', 'timers'],
      message: 'pure packages do no I/O (design.md: sans-IO core)' }],
  }],
  'no-restricted-globals': ['error',
    { name: 'setTimeout', message: 'the core asks for timers with arm-timer commands' },
    { name: 'setInterval', message: 'the core asks for timers with arm-timer commands' },
    { name: 'setImmediate', message: 'pure packages schedule nothing' },
    { name: 'process', message: 'pure packages do not touch the process' }],
  'no-restricted-properties': ['error',
    { object: 'Date', property: 'now', message: 'time comes in with each event (ev.at)' },
    { object: 'performance', property: 'now', message: 'time comes in with each event (ev.at)' }],
}

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/build/**', 'coverage/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'eqeqeq': ['error', 'always'],
    },
  },
  {
    files: ['packages/wire/src/**/*.ts', 'packages/core/src/**/*.ts', 'packages/dhcp6-relay/src/codec*.ts', 'packages/dhcp6-relay/src/relay-logic*.ts'],
    rules: pureRestrictions,
  },
  {
    files: ['**/test/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
)

// `policy:` in the config file: every bad field named, the secret only from a private file.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, validateConfig } from '../src/config'

const dir = mkdtempSync(join(tmpdir(), 'mag-policy-'))
const secret = join(dir, 'secret')
writeFileSync(secret, 'testing123\n', { mode: 0o600 })
const open = join(dir, 'open')
writeFileSync(open, 'testing123\n')
chmodSync(open, 0o644)
const empty = join(dir, 'empty')
writeFileSync(empty, '\n', { mode: 0o600 })
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const base = { mag: { address: '2001:db8:ffff::1' }, links: { mn1: {} } }
const problems = (doc: unknown): string[] => {
  try {
    validateConfig(doc)
    return []
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.reason}`)
    throw e
  }
}

test('absent: the file is the policy store', () => {
  expect(validateConfig(base).policy).toEqual({ source: 'file' })
})

test('radius with defaults, accounting and a DAS', () => {
  const c = validateConfig({
    ...base,
    policy: { source: 'radius', radius: { servers: [{ address: '2001:db8:aaa::2', secretFile: secret }, { address: '192.0.2.9', port: 11812, secretFile: secret }], accounting: { servers: [{ address: '2001:db8:aaa::2', secretFile: secret }], interimInterval: 300 }, das: { clients: [{ address: '2001:db8:aaa::2', secretFile: secret }] } } },
  })
  expect(c.policy).toMatchObject({
    source: 'radius',
    radius: {
      servers: [{ address: '2001:db8:aaa::2', port: 1812, secretFile: secret }, { address: '192.0.2.9', port: 11812 }],
      timeoutMs: 1000,
      retries: 2,
      cacheTtlS: 3600,
      userPassword: 'none',
      requireMessageAuthenticator: true,
      accounting: { servers: [{ port: 1813 }], interimIntervalS: 300 },
      das: { listen: '[::]:3799', clients: [{ address: '2001:db8:aaa::2' }] },
    },
  })
})

test.each([
  ['an unknown source', { source: 'ldap' }, 'policy.source: must be one of file, radius, radius-then-file'],
  ['radius without its section', { source: 'radius' }, 'policy.radius: is required with policy.source radius'],
  ['no servers', { source: 'radius', radius: { servers: [] } }, 'policy.radius.servers: needs at least one server'],
  ['a bad address', { radius: { servers: [{ address: 'radius.example', secretFile: secret }] } }, 'policy.radius.servers[0].address: not an IP address: radius.example'],
  ['an inline secret', { radius: { servers: [{ address: '2001:db8::1', secret: 'x', secretFile: secret }] } }, 'policy.radius.servers[0].secret: unknown field'],
  ['no secret file', { radius: { servers: [{ address: '2001:db8::1' }] } }, 'policy.radius.servers[0].secretFile: is required'],
  ['a missing secret file', { radius: { servers: [{ address: '2001:db8::1', secretFile: join(dir, 'nope') }] } }, 'policy.radius.servers[0].secretFile: cannot read'],
  ['a secret others can read', { radius: { servers: [{ address: '2001:db8::1', secretFile: open }] } }, 'policy.radius.servers[0].secretFile: ' + open + ' is readable by group or others'],
  ['an empty secret', { radius: { servers: [{ address: '2001:db8::1', secretFile: empty }] } }, 'policy.radius.servers[0].secretFile: ' + empty + ': the secret (its first line) is empty'],
  ['a timeout of 0', { radius: { servers: [{ address: '2001:db8::1', secretFile: secret }], timeoutMs: 0 } }, 'policy.radius.timeoutMs: must be between'],
  ['retryMaxMs below retryInitialMs', { radius: { servers: [{ address: '2001:db8::1', secretFile: secret }], retryInitialMs: 5000, retryMaxMs: 1000 } }, 'policy.radius.retryMaxMs: must be at least retryInitialMs'],
  ['an interim interval of 10 s', { radius: { servers: [{ address: '2001:db8::1', secretFile: secret }], accounting: { servers: [{ address: '2001:db8::1', secretFile: secret }], interimInterval: 10 } } }, 'policy.radius.accounting.interimInterval: must be 0 (none) or at least 60'],
  ['a DAS without clients', { radius: { servers: [{ address: '2001:db8::1', secretFile: secret }], das: { listen: '[::1]:3799' } } }, 'policy.radius.das.clients: needs at least one client'],
  ['a host-mode attribute without value', { radius: { servers: [{ address: '2001:db8::1', secretFile: secret }], hostMode: { type: 11 } } }, 'policy.radius.hostMode.value: is required'],
  ['radius options with source file', { source: 'file', radius: {} }, 'policy.radius: is only read with policy.source radius or radius-then-file'],
])('%s', (_w, policy, want) => {
  expect(problems({ ...base, policy }).join('\n')).toContain(want)
})

test('source radius refuses file profiles (they would never be read); radius-then-file takes them', () => {
  const radius = { servers: [{ address: '2001:db8::1', secretFile: secret }] }
  const profiles = [{ mnId: 'mn1@example.org', lma: '2001:db8:ffff::2' }]
  expect(problems({ ...base, profiles, policy: { source: 'radius', radius } })).toEqual([expect.stringMatching(/^profiles: not consulted with policy.source radius/)])
  expect(validateConfig({ ...base, profiles, policy: { source: 'radius-then-file', radius } }).policy?.source).toBe('radius-then-file')
})

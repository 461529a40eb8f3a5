// `mag lma` as mounted on a commander program: options, and a bad config is exit code 2 with
// the field path in the message (the daemon never starts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { lmaCommand } from '@pmip6/lab-lma'

describe('lmaCommand', () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lma-cli-'))
  })
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true })
    process.exitCode = 0
  })

  test('registers `lma` with --config and --log-level', () => {
    const program = new Command('mag')
    const cmd = lmaCommand(program)
    expect(cmd.name()).toBe('lma')
    expect(program.commands.map((c) => c.name())).toEqual(['lma'])
    expect(cmd.options.map((o) => o.long)).toEqual(['--config', '--log-level'])
  })

  test('a config error is reported with its field path and exit code 2', async () => {
    const f = join(dir, 'bad.yaml')
    writeFileSync(f, 'address: 2001:db8::2\npool: nonsense\n')
    const program = new Command('mag').exitOverride()
    lmaCommand(program)
    const writes: string[] = []
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      writes.push(String(s))
      return true
    })
    try {
      await program.parseAsync(['node', 'mag', 'lma', '--config', f])
    } finally {
      spy.mockRestore()
    }
    expect(writes.join('')).toBe('lma: config.pool: not an IPv6 prefix\n')
    expect(process.exitCode).toBe(2)
    process.exitCode = 0
  })

  test('a bad log level is refused by commander', async () => {
    const program = new Command('mag').exitOverride().configureOutput({ writeErr: () => undefined })
    lmaCommand(program)
    await expect(program.parseAsync(['node', 'mag', 'lma', '--config', 'x', '--log-level', 'loud'])).rejects.toThrow(/loud/)
  })
})

// NetBuild as pure code: how collected commands group into batches, the process each batch is,
// and how a failing batch line maps back to its command and namespace. The lab's topology plan
// is checked for the ordering it promises and for how few processes it costs.
import { NetBuild, NetBuildError, batchCommand, explainFailure, sysctlScript, SYSCTL_FAILED, type BatchCommand, type NetBatch, type RunResult } from '../src/lab/netbuild'
import { planTopology } from '../src/lab/topology'
import { names } from '../src/lab/plan'

const ok: RunResult = { status: 0, stdout: '', stderr: '' }

describe('NetBuild: grouping', () => {
  test('one ip batch per (namespace, family), one for the sysctls, in the order each first appears, lines in order', () => {
    const nb = new NetBuild()
      .ip('a', ['link', 'set', 'lo', 'up'])
      .ip('b', ['link', 'set', 'lo', 'up'])
      .sysctl('b', 'net.ipv6.conf.all.forwarding', 1)
      .sysctl('a', 'net.ipv6.conf.all.forwarding', 1)
      .sysctl('b', 'net.ipv4.ip_forward', 1)
      .ip('a', ['addr', 'add', '2001:db8::1/64', 'dev', 'eth0'])
      .ip('a', ['route', 'add', 'default', 'via', '2001:db8::2'], { family: 6 })
      .ip('a', ['route', 'add', 'default', 'via', '192.0.2.2'], { family: 4 })
      .ip('a', ['route', 'add', '2001:db8:1::/48', 'via', '2001:db8::3'], { family: 6 })
      .ip(null, ['netns', 'add', 'c'])
    expect(nb.batches()).toEqual([
      { kind: 'ip', ns: 'a', lines: ['link set lo up', 'addr add 2001:db8::1/64 dev eth0'] },
      { kind: 'ip', ns: 'b', lines: ['link set lo up'] },
      {
        kind: 'sysctl',
        namespaces: [
          {
            ns: 'b',
            settings: [
              { key: 'net.ipv6.conf.all.forwarding', value: '1', ifPresent: false },
              { key: 'net.ipv4.ip_forward', value: '1', ifPresent: false },
            ],
          },
          { ns: 'a', settings: [{ key: 'net.ipv6.conf.all.forwarding', value: '1', ifPresent: false }] },
        ],
      },
      { kind: 'ip', ns: 'a', family: 6, lines: ['route add default via 2001:db8::2', 'route add 2001:db8:1::/48 via 2001:db8::3'] },
      { kind: 'ip', ns: 'a', family: 4, lines: ['route add default via 192.0.2.2'] },
      { kind: 'ip', ns: null, lines: ['netns add c'] },
    ])
  })

  test('the family is a global option: a batch line cannot carry it, nor anything ip would read back differently', () => {
    const nb = new NetBuild()
    expect(() => nb.ip('a', ['-6', 'route', 'add', 'default', 'via', '2001:db8::2'])).toThrow(/global options.*family option/)
    expect(() => nb.ip('a', ['link', 'set', 'eth 0', 'up'])).toThrow(/cannot be written in a batch line/)
    expect(() => nb.ip('a', ['link', 'set', 'x#1', 'up'])).toThrow(/cannot be written/)
    expect(() => nb.ip('a', ['link', 'set', "x'", 'up'])).toThrow(/cannot be written/)
    expect(() => nb.ip('a', [])).toThrow(/no command/)
    expect(() => nb.sysctl('a', 'net/../../etc', 1)).toThrow(/bad key/)
    expect(() => nb.sysctl('a', 'net.ipv6.conf.x y.accept_ra', 1)).toThrow(/bad key/)
    expect(() => nb.sysctl('a', 'net.ipv4.ping_group_range', "0'; reboot")).toThrow(/bad value/)
    expect(() => nb.sysctl('a', 'net.ipv4.ping_group_range', '0" x')).toThrow(/bad value/)
    expect(() => nb.sysctl('a', 'net.ipv4.ping_group_range', '0 #1')).toThrow(/bad value/)
    expect(nb.size).toBe(0)
  })

  test('the process for each batch: ip [-n NS] [-4|-6] -batch - with the lines on stdin; sysctls one shell per namespace, forked by one ip', () => {
    expect(batchCommand({ kind: 'ip', ns: 'a', family: 6, lines: ['route add default via 2001:db8::2', 'link set lo up'] })).toEqual({
      cmd: 'ip',
      args: ['-n', 'a', '-6', '-batch', '-'],
      input: 'route add default via 2001:db8::2\nlink set lo up\n',
    })
    expect(batchCommand({ kind: 'ip', ns: null, lines: ['netns add a'] })).toEqual({ cmd: 'ip', args: ['-batch', '-'], input: 'netns add a\n' })
    const settings = [{ key: 'net.ipv4.ip_forward', value: '1', ifPresent: false }]
    const s = batchCommand({ kind: 'sysctl', namespaces: [{ ns: 'a', settings }, { ns: 'b', settings }] })
    expect(s.args).toEqual(['-batch', '-'])
    expect(s.input.split('\n')).toEqual([`netns exec a sh -c "${sysctlScript(settings)}"`, `netns exec b sh -c "${sysctlScript(settings)}"`, ''])
  })

  test('the sysctl script writes /proc/sys paths, skips absent optional keys, and names the setting it failed on', () => {
    const script = sysctlScript([
      { key: 'net.ipv6.conf.mn1.accept_ra', value: '0', ifPresent: false },
      { key: 'net.bridge.bridge-nf-call-ip6tables', value: '0', ifPresent: true },
      { key: 'net/ipv6/conf/eth0.100/accept_ra', value: '2', ifPresent: false },
    ])
    // One line, one argument of an ip batch line: no double quotes, no '#'.
    expect(script).not.toMatch(/["#\n]/)
    const parts = script.split('; ')
    expect(parts[0]).toBe(`echo '0' > /proc/sys/net/ipv6/conf/mn1/accept_ra || { echo '${SYSCTL_FAILED} net.ipv6.conf.mn1.accept_ra=0' >&2`)
    expect(script).toContain(`[ ! -e /proc/sys/net/bridge/bridge-nf-call-ip6tables ] || echo '0' > /proc/sys/net/bridge/bridge-nf-call-ip6tables || {`)
    // A key with '/' is a path: interface names may hold dots.
    expect(script).toContain("echo '2' > /proc/sys/net/ipv6/conf/eth0.100/accept_ra ||")
  })
})

describe('NetBuild: failures name the command and the namespace', () => {
  const batch: NetBatch = { kind: 'ip', ns: 'lab-mag1', lines: ['link set lo up', 'addr add 2001:db8:ffff::1/64 dev up0 nodad', 'route add default via 2001:db8:ffff::2 dev up0'] }

  test('ip -batch reports "Command failed -:N": line N is the command', () => {
    const e = explainFailure(batch, { status: 1, stdout: '', stderr: 'RTNETLINK answers: File exists\nCommand failed -:3\n' })
    expect(e).toBeInstanceOf(NetBuildError)
    expect(e).toMatchObject({ ns: 'lab-mag1', line: 3, command: 'route add default via 2001:db8:ffff::2 dev up0' })
    expect(e.message).toBe('ip -n lab-mag1 route add default via 2001:db8:ffff::2 dev up0 (line 3 of a batch in namespace lab-mag1): RTNETLINK answers: File exists')
  })

  test('the family and the root namespace are said too', () => {
    const e = explainFailure({ kind: 'ip', ns: null, family: 4, lines: ['netns add x', 'netns add y'] }, { status: 1, stdout: '', stderr: 'Cannot create namespace file "/run/netns/y": File exists\nCommand failed -:2' })
    expect(e).toMatchObject({ ns: null, line: 2, command: 'netns add y' })
    expect(e.message).toBe('ip -4 netns add y (line 2 of a batch in the root namespace): Cannot create namespace file "/run/netns/y": File exists')
  })

  test('no line number (ip could not start, or a line out of range): the whole of stderr, and where', () => {
    expect(explainFailure(batch, { status: 255, stdout: '', stderr: 'Cannot open network namespace "lab-mag1": No such file or directory' }).message).toBe(
      'ip batch in namespace lab-mag1 failed: Cannot open network namespace "lab-mag1": No such file or directory',
    )
    expect(explainFailure(batch, { status: 1, stdout: '', stderr: 'oops\nCommand failed -:9' }).command).toBeUndefined()
    expect(explainFailure(batch, { status: null, stdout: '', stderr: '', error: new Error('spawnSync ip ETIMEDOUT') }).message).toBe('ip batch of 3 lines in namespace lab-mag1: spawnSync ip ETIMEDOUT')
  })

  test('a sysctl batch: the namespace from the line number, the setting its script named, and the shell says why', () => {
    const settings = [{ key: 'net.ipv6.conf.eth0.accept_ra', value: '1', ifPresent: false }]
    const b: NetBatch = { kind: 'sysctl', namespaces: [{ ns: 'lab-mn1', settings }, { ns: 'lab-mn2', settings }] }
    const e = explainFailure(b, {
      status: 1,
      stdout: '',
      stderr: `sh: 1: cannot create /proc/sys/net/ipv6/conf/eth0/accept_ra: Directory nonexistent\n${SYSCTL_FAILED} net.ipv6.conf.eth0.accept_ra=1\nCommand failed -:2\n`,
    })
    expect(e).toMatchObject({ ns: 'lab-mn2', line: 2, command: 'net.ipv6.conf.eth0.accept_ra=1' })
    expect(e.message).toBe('sysctl -w net.ipv6.conf.eth0.accept_ra=1 in namespace lab-mn2: sh: 1: cannot create /proc/sys/net/ipv6/conf/eth0/accept_ra: Directory nonexistent')
    // The namespace gone (ip could not enter it): no setting named, the namespace still is.
    expect(explainFailure(b, { status: 1, stdout: '', stderr: 'Cannot open network namespace "lab-mn1": No such file or directory\nCommand failed -:1' }).message).toBe(
      'sysctl settings in namespace lab-mn1 failed: Cannot open network namespace "lab-mn1": No such file or directory',
    )
  })

  test('run() stops at the first failing batch, throws its error, and forgets what it collected', () => {
    const seen: BatchCommand[] = []
    const nb = new NetBuild().ip('a', ['link', 'set', 'lo', 'up']).ip('b', ['link', 'set', 'x', 'up']).ip('c', ['link', 'set', 'lo', 'up'])
    const runner = (c: BatchCommand): RunResult => {
      seen.push(c)
      return c.args[1] === 'b' ? { status: 1, stdout: '', stderr: 'Cannot find device "x"\nCommand failed -:1' } : ok
    }
    expect(() => nb.run(runner)).toThrow('ip -n b link set x up (line 1 of a batch in namespace b): Cannot find device "x"')
    expect(seen.map((c) => c.args[1])).toEqual(['a', 'b'])
    expect(nb.size).toBe(0)
  })
})

describe('the lab topology plan', () => {
  const n = names('t')
  const lines = (p: ReturnType<typeof planTopology>, what: string, ns: string | null) =>
    p.phases
      .find((x) => x.what === what)!
      .build.batches()
      .filter((b): b is Extract<NetBatch, { kind: 'ip' }> => b.kind === 'ip' && b.ns === ns)
      .flatMap((b) => b.lines)

  test.each([1, 2, 10, 200])('%i MNs: 21 + 2 per MN processes, no family options, every veth made in place', (mns) => {
    const p = planTopology(n, mns)
    const batches = p.phases.flatMap((x) => x.build.batches())
    // A sysctl batch is one ip and a shell per namespace, an ip batch one process.
    expect(batches.length).toBe(13 + mns)
    expect(batches.reduce((sum, b) => sum + (b.kind === 'sysctl' ? 1 + b.namespaces.length : 1), 0)).toBe(21 + 2 * mns)
    expect(p.namespaces.length).toBe(5 + mns)
    for (const b of batches) if (b.kind === 'ip') expect(b.family).toBeUndefined()
    // The root namespace makes namespaces and links and holds none of them.
    const root = lines(p, 'links', null)
    expect(root.every((l) => / netns t-/.test(l))).toBe(true)
    expect(root.filter((l) => l.includes(' type veth ')).every((l) => /^link add \S+ netns \S+ .*type veth peer name \S+ netns \S+/.test(l))).toBe(true)
  })

  test('an access link gets its settings (no EUI-64 link-local) in a phase before it goes up', () => {
    const p = planTopology(n, 2)
    const order = p.phases.map((x) => x.what)
    expect(order).toEqual(['namespaces', 'namespace defaults', 'links', 'interface settings', 'addresses and links up', 'routes'])
    const [settings] = p.phases[3]!.build.batches()
    expect(settings?.kind === 'sysctl' && settings.namespaces.find((x) => x.ns === 't-mag2')?.settings.map((s) => s.key)).toContain('net.ipv6.conf.mn2.addr_gen_mode')
    expect(lines(p, 'addresses and links up', 't-mag2')).toEqual([
      'link set lo up',
      'addr add 2001:db8:ffff::3/64 dev up0 nodad',
      'link set up0 up',
      'link set mn1 up',
      'addr add fe80::1/64 dev mn1 nodad',
      'link set mn2 up',
      'addr add fe80::1/64 dev mn2 nodad',
    ])
    // Only the air port to mag1 is up: every MN starts there.
    const air = lines(p, 'addresses and links up', 't-air')
    expect(air).toContain('link set x2 up')
    expect(air).toContain('link set y2 master b2')
    expect(air).not.toContain('link set y2 up')
    expect(p.mnAt).toEqual({ 'mn1@example.com': 'mag1', 'mn2@example.com': 'mag1' })
    expect(lines(p, 'routes', 't-cn')).toEqual(['route add default via 2001:db8:cccc::1 dev eth0', 'route add default via 203.0.113.1 dev eth0'])
  })
})

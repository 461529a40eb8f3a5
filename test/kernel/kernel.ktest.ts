// The tier's own precondition: the guest kernel has what this machine's kernel lacks, so a
// failure further on is the project's, not the VM's.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { release } from 'node:os'

const sh = (cmd: string): { code: number; out: string } => {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8', timeout: 30_000 })
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` }
}

test('the guest is User-Mode Linux with ip6_tunnel, ppp_generic and esp6 loadable', () => {
  expect(release()).toMatch(/^6\./)
  expect(sh('modprobe -a ip6_tunnel ppp_generic ppp_async esp6 xfrm_user veth')).toEqual({ code: 0, out: '' })
  expect(existsSync('/dev/ppp') || sh('mknod /dev/ppp c 108 0').code === 0).toBe(true)
  const mods = sh('lsmod').out
  for (const m of ['ip6_tunnel', 'ppp_generic', 'esp6']) expect(mods).toContain(m)
})

// RFC 5213 §5.1 and §6.8: the LMA generates the MAG link-local address of an MN's access link
// when the MAG asks with ALL_ZERO, keeps it for the mobility session and hands it to every later
// MAG; a MAG that had to replace it (§6.9.1.2 item 15) uploads its own, which is kept from then on.
import { formatIp6, type MobilityOption } from '@pmip6/wire'
import { LmaCore, linkLocalFor } from '@pmip6/lab-lma'
import { LMA, MAG1, MAG2, NAI, T0, pbaOf, sendPbu } from './helpers/pbu'

const core = () => new LmaCore({ address: LMA, pool: '2001:db8:100::/48' })
const llaOf = (options: readonly MobilityOption[]): string | undefined => {
  const o = options.find((x) => x.type === 'link-local-address')
  return o !== undefined && o.type === 'link-local-address' ? formatIp6(o.address) : undefined
}

describe('RFC 5213 §5.1 / §6.8: the MAG link-local address', () => {
  test('§6.8: an ALL_ZERO request gets a generated, non-zero fe80::/64 address, stored in the BCE', () => {
    const c = core()
    const got = llaOf(pbaOf(sendPbu(c, T0, { lla: '::' })).options)
    expect(got).toMatch(/^fe80::[0-9a-f:]+$/)
    expect(got).not.toBe('fe80::')
    expect(got).toBe(formatIp6(linkLocalFor(NAI)))
    expect(c.binding(NAI)?.linkLocal).toBe(got)
    expect(formatIp6(linkLocalFor('mn2@example.com'))).not.toBe(got)
  })

  test('§6.8: the same address for the refresh and for the next MAG of a handoff', () => {
    const c = core()
    const first = llaOf(pbaOf(sendPbu(c, T0, { lla: '::' })).options)
    expect(llaOf(pbaOf(sendPbu(c, T0 + 100, { lla: '::', hi: 5, seq: 2 })).options)).toBe(first)
    expect(llaOf(pbaOf(sendPbu(c, T0 + 200, { lla: '::', hi: 3, seq: 3 }, MAG2)).options)).toBe(first)
  })

  test('§6.9.1.2 item 15: a MAG uploading a replacement makes it the address handed on', () => {
    const c = core()
    sendPbu(c, T0, { lla: '::' })
    expect(llaOf(pbaOf(sendPbu(c, T0 + 100, { lla: 'fe80::77', hi: 5, seq: 2 })).options)).toBe('fe80::77')
    expect(llaOf(pbaOf(sendPbu(c, T0 + 200, { lla: '::', hi: 3, seq: 3 }, MAG2)).options)).toBe('fe80::77')
  })

  test('§6.9.1.1 item 9: a MAG with a fixed link-local address sends no option and gets none back', () => {
    const c = core()
    expect(llaOf(pbaOf(sendPbu(c, T0, {}, MAG1)).options)).toBeUndefined()
    expect(c.binding(NAI)?.linkLocal).toBeUndefined()
  })
})

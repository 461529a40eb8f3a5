// RFC 5213 §6.2 with RFC 6085: on a link listed as shared, the RAs that carry one MN's home
// network prefix go in a frame to that MN's MAC only (the daemon hands the I/O the MN's MAC);
// on a point-to-point link the kernel's own multicast frame is right.
import { nd } from '@pmip6/wire'
import { world } from './helpers/world'

const MAC = '02:00:00:00:01:01'

async function registered(links: Record<string, unknown>) {
  const w = world({ links })
  await w.d.start()
  w.d.enqueue({ type: 'attached', at: w.now(), link: 'mn1', mnId: 'mn1@example.com', llId: Buffer.from(MAC.split(':').map((h) => parseInt(h, 16))), att: 4 })
  const pbu = w.pbus()[0]
  expect(pbu).toBeDefined()
  w.accept(pbu!)
  w.tick(60_000) // the initial RAs are out (RFC 4861 §6.2.4)
  const ras = w.ras.filter((r) => nd.decode(r.bytes).kind === 'router-advertisement')
  expect(ras.length).toBeGreaterThan(0)
  return ras
}

test('shared link: every RA of the MN goes to its MAC (the frame reaches that station only)', async () => {
  const ras = await registered({ mn1: { shared: true } })
  for (const r of ras) expect(r).toMatchObject({ link: 'mn1', to: 'ff02::1', llDst: MAC })
})

test('point-to-point link: no frame address is given (the kernel sends to ff02::1 as multicast)', async () => {
  const ras = await registered({ mn1: null })
  for (const r of ras) expect(r.llDst).toBeNull()
})

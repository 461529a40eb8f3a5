// The mock link lives inside the driver: the harness drives it through its own API, and its
// restart is a stop/start of the same instance (the link it models did not go away).
import type { Logger } from '@pmip6/driver-api'
import { driverCompliance } from '@pmip6/testkit'
import { mock, type MockDriver } from '../src'

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined }

driverCompliance('mock', async () => {
  const d = mock({ att: 4 }, { log: quiet, clock: { now: () => Date.now() } }) as MockDriver
  const mac = (i: number) => `02:00:00:00:0b:0${i}`
  return {
    driver: d,
    attach: async (i) => void d.attach({ link: `mn${i}`, mac: mac(i) }),
    detach: async (i) => void d.detach({ mac: mac(i), cause: 'left' }),
    restart: async (old) => {
      await old.stop()
      await old.start()
      return old
    },
    cleanup: async () => undefined,
  }
})

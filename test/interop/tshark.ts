// Runs Debian's tshark over a pcap and returns, per packet, every dissected field as
// (name, shown value) pairs from its PDML output, so tests can check what an independent
// decoder made of our bytes. With CI=true a missing tshark is a failure, never a skip.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Field {
  readonly name: string
  readonly show: string
}

export function haveTshark(): boolean {
  return spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0
}

function unescapeXml(s: string): string {
  return s.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&apos;/g, "'").replace(/&amp;/g, '&')
}

/** Dissects `pcap` and returns the fields of each packet, in order (tshark bounded by `timeoutMs`). */
export function dissect(pcap: Buffer, timeoutMs = 60_000): Field[][] {
  const dir = mkdtempSync(join(tmpdir(), 'mag-tshark-'))
  try {
    const file = join(dir, 'in.pcap')
    writeFileSync(file, pcap)
    return parsePdml(execFileSync('tshark', ['-n', '-r', file, '-T', 'pdml'], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 }))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The fields of each packet in tshark's PDML output. */
export function parsePdml(xml: string): Field[][] {
  return xml
    .split('<packet>')
    .slice(1)
    .map((pkt) => {
      const out: Field[] = []
      const tag = /<(?:field|proto)\s[^>]*>/g
      let m: RegExpExecArray | null
      while ((m = tag.exec(pkt)) !== null) {
        const name = /\sname="([^"]*)"/.exec(m[0])
        const show = /\sshow="([^"]*)"/.exec(m[0])
        out.push({ name: name?.[1] ?? '', show: unescapeXml(show?.[1] ?? '') })
      }
      return out
    })
}

/** Every shown value of a field in a packet. */
export function values(fields: readonly Field[], name: string): string[] {
  return fields.filter((f) => f.name === name).map((f) => f.show)
}

/** Malformed-packet and expert-info entries tshark attached to a packet. */
export function problems(fields: readonly Field[]): Field[] {
  return fields.filter((f) => f.name === '_ws.malformed' || f.name.startsWith('_ws.expert') || f.name === 'expert')
}

/**
 * A binding view as JSON text, byte for byte what JSON.stringify(view) gives (issue 23: a page
 * of a million-entry list is mostly this). Written by hand because JSON.stringify walks each
 * view's keys generically; here the shape is known. The field order is BindingView's, as
 * MagCore builds it; test/view-json.test.ts holds both to JSON.stringify.
 */
import type { BindingView } from './types'

/** Characters JSON.stringify escapes: '"', '\', controls, and surrogates (lone ones are written as \uXXXX). */
// eslint-disable-next-line no-control-regex -- the control characters are what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/

function str(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"'
}

function strOrNull(s: string | null): string {
  return s === null ? 'null' : str(s)
}

function num(n: number): string {
  // JSON has no NaN or Infinity: JSON.stringify writes null; String(-0) is '0' like JSON.
  return Number.isFinite(n) ? String(n) : 'null'
}

function numOrNull(n: number | null): string {
  return n === null ? 'null' : num(n)
}

function strings(a: readonly string[]): string {
  if (a.length === 0) return '[]'
  let out = '[' + str(a[0]!)
  for (let i = 1; i < a.length; i++) out += ',' + str(a[i]!)
  return out + ']'
}

/** JSON.stringify(v) for a BindingView with its fields in the order MagCore gives them. */
export function bindingViewJson(v: BindingView): string {
  const g = v.greKeys
  const q = v.ipv4Requested
  return (
    '{"mnId":' +
    str(v.mnId) +
    ',"link":' +
    str(v.link) +
    ',"state":' +
    str(v.state) +
    ',"reason":' +
    str(v.reason) +
    ',"mode":' +
    str(v.mode) +
    ',"lma":' +
    strOrNull(v.lma) +
    ',"prefixes":' +
    strings(v.prefixes) +
    ',"homePrefixes":' +
    strings(v.homePrefixes) +
    ',"lifetimeLeft":' +
    num(v.lifetimeLeft) +
    ',"grantedLifetime":' +
    num(v.grantedLifetime) +
    ',"lastStatus":' +
    numOrNull(v.lastStatus) +
    ',"retransmissions":' +
    num(v.retransmissions) +
    ',"pending":' +
    strOrNull(v.pending) +
    ',"att":' +
    num(v.att) +
    ',"mac":' +
    strOrNull(v.mac) +
    ',"hi":' +
    num(v.hi) +
    ',"routerAddress":' +
    str(v.routerAddress) +
    ',"stack":' +
    str(v.stack) +
    ',"ipv4Address":' +
    strOrNull(v.ipv4Address) +
    ',"ipv4Router":' +
    strOrNull(v.ipv4Router) +
    ',"ipv4Reason":' +
    str(v.ipv4Reason) +
    ',"ipv4Requested":' +
    (q === null ? 'null' : '{"address":' + str(q.address) + ',"outcome":' + str(q.outcome) + '}') +
    ',"greKeys":' +
    (g === null ? 'null' : '{"uplink":' + num(g.uplink) + ',"downlink":' + num(g.downlink) + '}') +
    '}'
  )
}

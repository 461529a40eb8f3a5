/** Compile-time exhaustiveness for switches over unions (design.md, "Style"). */
export function assertNever(x: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(x)}`)
}

// What `validateConfig` says of a document, as `path: reason` lines (empty when it loads): the
// config tests assert that each bad field is named.
import { validateConfig, ConfigError } from '../src/config'

export function problems(doc: unknown): string[] {
  try {
    validateConfig(doc)
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.reason}`)
    throw e
  }
  return []
}

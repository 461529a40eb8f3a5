'use strict'
// The kernel tier's jest transformer, inside User-Mode Linux: the JavaScript the host compiled
// before boot (precompile.js; the table's path in KT_PRECOMPILED) for each TypeScript module whose
// source is unchanged, so the guest never loads TypeScript; ts-jest, with the same options, for
// anything else. Counts of both go to KT_PRECOMPILED_STATS, for run.js to report.
const fs = require('node:fs')
const { sha1 } = require('./precompile')

let table = null
function lookup(file) {
  if (table === null) {
    table = new Map()
    const f = process.env.KT_PRECOMPILED
    if (f) {
      try {
        table = new Map(Object.entries(JSON.parse(fs.readFileSync(f, 'utf8')).files))
      } catch {
        // no table: ts-jest for everything
      }
    }
  }
  let hit = table.get(file)
  if (hit === undefined && table.size > 0) {
    try {
      hit = table.get(fs.realpathSync(file))
    } catch {
      // not on disk: ts-jest says why
    }
  }
  return hit
}

const stats = { precompiled: 0, tsJest: 0 }
process.on('exit', () => {
  const f = process.env.KT_PRECOMPILED_STATS
  if (f) fs.writeFileSync(f, JSON.stringify(stats))
})

let tsJest = null
module.exports = {
  process(src, file, options) {
    const hit = lookup(file)
    if (hit !== undefined && hit.sha1 === sha1(src)) {
      stats.precompiled++
      return { code: hit.code }
    }
    stats.tsJest++
    tsJest ??= require('ts-jest').default.createTransformer(options.transformerConfig)
    return tsJest.process(src, file, options)
  },
}

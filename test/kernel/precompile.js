'use strict'
// The kernel tier's TypeScript, compiled on the host before the VM boots (run.js): inside User-Mode
// Linux every syscall and page fault goes through ptrace, and ts-jest loading TypeScript, parsing
// tsconfig.test.json (a walk over the repository) and transpiling each module cost the guest's one
// CPU. Here ts-jest itself compiles, with the kernel project's own jest config, each ktest and every
// TypeScript module it reaches; test/kernel/transform.js serves the result inside the guest (and
// hands anything not in the table, or changed since, to ts-jest).
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')

const CONFIG = path.join(__dirname, 'jest.config.js')

const sha1 = (s) => crypto.createHash('sha1').update(s).digest('hex')

/** The .ts file a require() specifier names, or null (node built-ins, packages, .js files). */
function resolveTs(spec, from, mappers) {
  let base = null
  if (spec.startsWith('.') || spec.startsWith('/')) base = path.resolve(path.dirname(from), spec)
  else {
    for (const [re, to] of mappers) {
      const m = new RegExp(re).exec(spec)
      if (m) {
        base = to.replace(/\$(\d+)/g, (_, i) => m[Number(i)] ?? '')
        break
      }
    }
  }
  if (base === null) return null
  for (const f of [base, `${base}.ts`, path.join(base, 'index.ts')]) {
    if (f.endsWith('.ts') && !f.endsWith('.d.ts') && fs.existsSync(f) && fs.statSync(f).isFile()) return fs.realpathSync(f)
  }
  return null
}

/**
 * Compiles `entries` (absolute .ts paths) and the TypeScript modules they require, transitively,
 * as the guest's jest would; writes { files: { <path>: { sha1, code } } } to `outFile`.
 */
async function precompile(entries, outFile) {
  const { readConfig } = require('jest-config')
  const { projectConfig } = await readConfig({ _: [], $0: 'precompile' }, CONFIG)
  // The guest's transform entry for .ts is transform.js; its options are ts-jest's.
  const entry = projectConfig.transform.find(([re]) => new RegExp(re).test('x.ts'))
  if (!entry) throw new Error('the kernel jest config has no transform for .ts')
  const transformerConfig = entry[2]
  const tsJest = require('ts-jest').default.createTransformer(transformerConfig)
  const options = {
    config: projectConfig,
    configString: JSON.stringify(projectConfig),
    cacheFS: new Map(),
    instrument: false,
    supportsDynamicImport: true,
    supportsExportNamespaceFrom: true,
    supportsStaticESM: false,
    supportsTopLevelAwait: false,
    transformerConfig,
  }
  const files = {}
  const todo = entries.map((f) => fs.realpathSync(f))
  while (todo.length > 0) {
    const file = todo.pop()
    if (files[file] !== undefined) continue
    const src = fs.readFileSync(file, 'utf8')
    const out = tsJest.process(src, file, options)
    const code = typeof out === 'string' ? out : out.code
    files[file] = { sha1: sha1(src), code }
    for (const m of code.matchAll(/\brequire\((["'])([^"']+)\1\)/g)) {
      const dep = resolveTs(m[2], file, projectConfig.moduleNameMapper)
      if (dep !== null && files[dep] === undefined) todo.push(dep)
    }
  }
  fs.writeFileSync(outFile, JSON.stringify({ files }))
  return Object.keys(files).length
}

module.exports = { precompile, sha1 }

// `node precompile.js OUT.json KTEST...` (run.js, while the VM boots): prints what it did.
if (require.main === module) {
  const [outFile, ...entries] = process.argv.slice(2)
  precompile(entries, outFile + '.part')
    .then((n) => {
      fs.renameSync(outFile + '.part', outFile)
      console.log(`precompiled ${n} TypeScript modules for ${entries.length} ktests`)
    })
    .catch((e) => {
      console.error(e instanceof Error ? e.stack : String(e))
      process.exit(1)
    })
}

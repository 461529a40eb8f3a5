#!/usr/bin/env node
'use strict'
require('../dist/main.js').main(process.argv).catch((err) => {
  process.stderr.write(`mag: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})

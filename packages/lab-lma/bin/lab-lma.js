#!/usr/bin/env node
'use strict'
// Standalone lab LMA: lab-lma --config FILE [--log-level LEVEL] (needs a build: npx tsc -b packages/lab-lma)
require('../dist/cli').runLmaCli(process.argv).catch((e) => {
  process.stderr.write(`lab-lma: ${e instanceof Error ? e.message : String(e)}\n`)
  process.exitCode = 1
})

#!/usr/bin/env bash
# The README's main job: builds the project and shows what it does on the embedded defaults.
# Until the lab exists this decodes the worked PBU and PBA of protocol-reference §10.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ]; then npm ci --no-audit --no-fund; fi
npm run build >/dev/null
echo "== initial Proxy Binding Update (MAG -> LMA)"
node packages/cli/bin/mag.js decode --hex "3b0a05005af11234820003840810016d6e31406578616d706c652e636f6d010400000000161200000000000000000000000000000000000017020001180200040100 1b080000659200808000190800000011223344550100"
echo "== Proxy Binding Acknowledgement (LMA -> MAG)"
node packages/cli/bin/mag.js decode --hex "3b0a0600add6002012340384 0810016d6e31406578616d706c652e636f6d01040000000016120040 20010db80001000100000000000000001702000118020004 01001b0800006592008080001908000000112233445501 00"

#!/usr/bin/env bash
# The README's main job: installs and builds what is missing, then runs `mag lab demo` on the
# embedded defaults (root: it creates network namespaces; everything stays inside them).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "demo: run as root (network namespaces)" >&2; exit 1; fi
missing=()
command -v ip >/dev/null || missing+=(iproute2)
command -v ping >/dev/null || missing+=(iputils-ping)
command -v udhcpc >/dev/null || missing+=(udhcpc)   # the dual-stack MN's DHCPv4 client (RFC 5844)
command -v g++ >/dev/null || missing+=(g++ make python3)
if [ ${#missing[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; fi
if [ ! -d node_modules ]; then ./scripts/npm-ci.sh; fi
npm run build >/dev/null
exec node packages/cli/bin/mag.js lab demo --name magdemo "$@"

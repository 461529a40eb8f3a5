#!/usr/bin/env bash
# Makes the lab's base image where no registry serves node:20-bookworm(-slim): a minimal
# Debian 12 root from debootstrap (minbase, from the Debian mirror apt is configured with)
# plus this machine's Node.js, npm, Node headers (node-gyp builds the raw-socket addon
# offline against them) and CA bundle, imported as $1 (default pmip6-base:bookworm-node).
# The root is cached as a tarball under $PMIP6_DOCKER_CACHE (default /var/cache/pmip6-docker),
# keyed by Node's version, the package list and a layout number, so later runs only `docker import` it.
# Usage: base-image.sh [TAG]   (root; needs debootstrap and a running engine)
set -euo pipefail
tag=${1:-pmip6-base:bookworm-node}
cache=${PMIP6_DOCKER_CACHE:-/var/cache/pmip6-docker}
docker=${DOCKER:-docker}
# Runtime tools of the image, and the toolchain its build stage compiles the addon with.
pkgs=iproute2,iputils-ping,procps,ca-certificates,g++,make,python3

node_bin=$(command -v node)
node_prefix=$(dirname "$(dirname "$(readlink -f "$node_bin")")")
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
# Bump layout when what goes into the root changes.
layout=1
key=$(printf '%s %s %s' "$layout" "$pkgs" "$(node --version)" | sha256sum | cut -c1-16)
tarball=$cache/base-$key.tar

if "$docker" image inspect "$tag" >/dev/null 2>&1 &&
  [ "$("$docker" image inspect -f '{{index .Config.Labels "pmip6.base"}}' "$tag")" = "$key" ]; then
  echo "base image $tag is current ($key)"
  exit 0
fi

# The Debian mirror apt uses here (deb822 or one-line sources), for the bookworm suite.
mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
      /Suites:[^\n]*bookworm( |$|\n)/ { for (i = 1; i <= NF; i++) if ($i ~ /^URIs:/) { split($i, u, /[ \t]+/); print u[2]; exit } }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -e "$f" ] || continue
    sed 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && $3 == "bookworm" { print $2 }'
  done
  return 0
}

if [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null || { echo "base-image: debootstrap is not installed" >&2; exit 1; }
  url=$(mirror | grep -v security | head -n1)
  [ -n "$url" ] || { echo "base-image: no bookworm mirror in /etc/apt/sources.list*" >&2; exit 1; }
  mkdir -p "$cache"
  root=$(mktemp -d "$cache/root.XXXXXX")
  trap 'rm -rf "$root" "$tarball.part"' EXIT
  echo "debootstrap bookworm ($pkgs) from $url"
  debootstrap --variant=minbase --include="$pkgs" bookworm "$root" "$url" >"$root.log" 2>&1 ||
    { tail -n 30 "$root.log" >&2; rm -f "$root.log"; exit 1; }
  rm -f "$root.log"
  install -m 0755 "$node_bin" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules" "$root/usr/local/include" "$root/usr/local/etc"
  cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  cp -a "$node_prefix/include/node" "$root/usr/local/include/node"
  # The machine's trust store (its registries may sit behind a TLS proxy with a local CA).
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  printf 'nodedir=/usr/local\ncafile=/etc/ssl/certs/ca-certificates.crt\nfund=false\naudit=false\nupdate-notifier=false\n' >"$root/usr/local/etc/npmrc"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
  rm -rf "$root"
  trap - EXIT
  # Older keys of this cache are stale.
  find "$cache" -maxdepth 1 -name 'base-*.tar' ! -name "base-$key.tar" -delete
fi
"$docker" import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c "LABEL pmip6.base=$key" "$tarball" "$tag" >/dev/null
echo "base image $tag imported from $tarball"

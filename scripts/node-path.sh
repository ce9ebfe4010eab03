#!/usr/bin/env bash
# Prints the folder of a Node.js (22 or later) to put first on PATH:
#   export PATH="$(scripts/node-path.sh):$PATH"
# The machine's own node when it is new enough; otherwise Node 24 LTS from the npm registry (the
# node-linux-<arch> package, the same binary as nodejs.org's), installed once into .node/, which
# git ignores. Node 20 reached its end of life in April 2026; the project runs on 22 and later.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
wanted=22
major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$major" -ge "$wanted" ]; then
  dirname "$(command -v node)"
  exit 0
fi
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "scripts/node-path.sh: no Node 24 package for $(uname -m); install Node.js $wanted or later" >&2; exit 1 ;;
esac
dir="$root/.node"
bin="$dir/node_modules/node-linux-$arch/bin"
if [ ! -x "$bin/node" ]; then
  echo "Node.js $(node --version 2>/dev/null || echo 'not found') is older than $wanted: installing Node 24 into .node/ from the npm registry" >&2
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || echo '{ "private": true, "description": "Node.js for this checkout: see scripts/node-path.sh" }' > "$dir/package.json"
  npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node-linux-$arch@24" >&2
fi
echo "$bin"

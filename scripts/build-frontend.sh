#!/usr/bin/env bash
# Build the React frontend into frontend/dist once, and again only when a source
# is newer than the build: `npm ci` when node_modules is missing or older than
# the lock file, then `npm run build` when dist/index.html is missing or stale.
set -euo pipefail
cd "$(dirname "$0")/../frontend"
log() { printf 'build-frontend: %s\n' "$*"; }

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
if [ -f dist/index.html ] && [ -z "$(find src index.html package.json package-lock.json vite.config.ts tsconfig.json -newer dist/index.html -print -quit)" ]; then
  exit 0
fi
log "building frontend/dist"
npm run --silent build

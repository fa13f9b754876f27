#!/usr/bin/env bash
# Builds the web console (web/dist: the app, the offline basemap's reference layers and its label font),
# which cargo then embeds into the geoconsole binary. Installs the npm packages first when package-lock.json
# changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/../web"

if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Node.js and npm from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
  else
    echo "error: the web console needs Node.js 20 or later with npm (Debian: apt-get install nodejs npm)" >&2
    exit 1
  fi
fi

# `npm ci` installs exactly the lock file. Vite is pinned to 8.3.4: 8.4 added an optional dependency the npm
# registry does not serve, which leaves the lock incomplete and `npm ci` refusing it.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build

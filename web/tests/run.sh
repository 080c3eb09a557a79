#!/usr/bin/env bash
# The web app's browser tests, from a fresh machine: npm deps, Debian's Chromium, then node --test.
# Against the real local stack (devlocal.stack on free ports), as `make run` serves it.
set -euo pipefail
WEB="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$WEB"
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/axe-core ] || [ ! -d node_modules/@gouvfr/dsfr ]; then
  npm ci --ignore-scripts --no-audit --no-fund
fi
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi
mkdir -p test-artifacts
exec node --test --test-reporter=spec tests/

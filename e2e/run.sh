#!/usr/bin/env bash
# Runs the dashboard's end-to-end tests: installs playwright-core (pinned in
# package-lock.json, with the TypeScript "make test-web" uses; it drives
# Debian's /usr/bin/chromium, no browser download), then node's built-in test runner, which builds and starts the
# real `incidentd run` and a ClickHouse server itself (lib/stack.mjs).
# Screenshots of every page land in e2e/screenshots/.
#
#   e2e/run.sh [node --test options]
set -euo pipefail
cd "$(dirname "$0")"
for need in node npm /usr/bin/chromium /usr/sbin/clickhouse-server; do
	command -v "$need" >/dev/null || { echo "e2e: $need is missing (make setup installs chromium and clickhouse-server)" >&2; exit 1; }
done
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || { echo "e2e: node $(node --version) is too old: playwright-core needs Node.js 20 or later" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
rm -rf screenshots
exec node --test --test-concurrency=1 --test-timeout=150000 "$@" tests/

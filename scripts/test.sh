#!/usr/bin/env bash
# The test command (npm test, and CI's .ci/run): install what is missing, build, lint, then run
# unit, integration and end-to-end tests against real Postgres, Temporal, SFTP and SMTP servers.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
start=$(date +%s)

source scripts/install.sh --tests

echo "==> Build (tsc)"
npx tsc -p tsconfig.json

echo "==> Lint (eslint, prettier)"
npx eslint . --max-warnings=0
npx prettier --check . --log-level=warn

echo "==> Tests"
status=0
node dist/test/support/run-tests.js "$@" || status=$?
echo "==> Test command finished in $(( $(date +%s) - start ))s (exit $status)"
exit $status

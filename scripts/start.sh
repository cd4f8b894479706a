#!/usr/bin/env bash
# The start command (npm start): install what is missing, build, then run the whole system on
# its embedded default (Postgres, Temporal dev server, SMTP catcher, api, worker, hosted SFTP).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
source scripts/install.sh
echo "==> Build (tsc)"
npx tsc -p tsconfig.json
exec node dist/scripts/dev/start-stack.js

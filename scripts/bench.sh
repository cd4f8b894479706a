#!/usr/bin/env bash
# Benchmarks: `npm run bench:sync`, `npm run bench:sftp`, `npm run bench:schedules` (and `csv`),
# and the soak: `npm run soak`.
# Installs what is missing, builds, then runs one benchmark, which prints its own figures.
# Extra arguments go to the benchmark, e.g. `npm run bench:sync -- --rows 200000`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

name="${1:-}"
shift || true
case "$name" in
  sync) entry=dist/bench/sync/bench-sync.js ;;
  sftp) entry=dist/bench/sftp/bench-sftp.js ;;
  schedules) entry=dist/bench/schedules/bench-schedules.js ;;
  csv) entry=dist/bench/csv/read-roster.bench.js ;;
  soak) entry=dist/bench/soak/soak.js ;;
  *)
    echo "usage: scripts/bench.sh sync|sftp|schedules|csv|soak [options]" >&2
    exit 2
    ;;
esac

# sshd is the baseline of the SFTP benchmark; install.sh --tests provides it.
source scripts/install.sh --tests
npx tsc -p tsconfig.json
exec node "$entry" "$@"

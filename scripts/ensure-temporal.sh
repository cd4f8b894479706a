#!/usr/bin/env bash
# Prints the path of a Temporal CLI binary, building it once into .tools/bin when none is found.
# v1.5.1 is the newest tag `go install` accepts (later tags carry a replace directive).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools/bin"
if [ -n "${TEMPORAL_BIN:-}" ] && [ -x "$TEMPORAL_BIN" ]; then echo "$TEMPORAL_BIN"; exit 0; fi
if [ -x "$tools/temporal" ]; then echo "$tools/temporal"; exit 0; fi
if command -v temporal >/dev/null 2>&1; then command -v temporal; exit 0; fi
if ! command -v go >/dev/null 2>&1; then
  echo "No Temporal CLI found and no Go toolchain to build it. Install Go (https://go.dev/dl/) and run again," >&2
  echo "or put a 'temporal' binary on PATH (or set TEMPORAL_BIN), or set TEMPORAL_ADDRESS to a running Temporal server." >&2
  exit 1
fi
mkdir -p "$tools"
echo "Building the Temporal CLI once into .tools/bin (go install, a few minutes on first run)..." >&2
GOBIN="$tools" go install -v github.com/temporalio/cli/cmd/temporal@v1.5.1 2>&1 \
  | awk '{ n++; if (n % 25 == 0) printf "  ... %d packages compiled\n", n > "/dev/stderr" } END { printf "  done: %d packages\n", n > "/dev/stderr" }'
[ -x "$tools/temporal" ] || { echo "go install did not produce $tools/temporal" >&2; exit 1; }
echo "$tools/temporal"

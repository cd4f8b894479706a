#!/usr/bin/env bash
# Installs what rostersync needs on a fresh machine, once: npm packages, the Temporal CLI,
# and (for tests) OpenSSH's sftp client and sshd, and docker-compose to validate the compose file. Each step is skipped when already satisfied.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> Installing npm packages"
  # `npm install`, not `npm ci`: the registry serves only this platform's optional native builds
  # (e.g. @swc/core-linux-*), and npm ci refuses a lock file without the others. The lock still pins versions.
  npm install --no-audit --no-fund --loglevel=error
fi

if [ -z "${TEMPORAL_ADDRESS:-}" ] || [ "${1:-}" = "--tests" ]; then
  TEMPORAL_BIN="$(bash scripts/ensure-temporal.sh)"
  export TEMPORAL_BIN
fi

if [ "${1:-}" = "--tests" ]; then
  missing=()
  command -v sftp >/dev/null 2>&1 || missing+=(openssh-client)
  [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
  # Validates docker-compose.yml (`docker-compose config`); no container engine is needed for that.
  command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
  if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "==> Installing ${missing[*]} (apt-get) for the tests"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >/dev/null
    else
      echo "The tests need ${missing[*]}; install them (e.g. sudo apt-get install ${missing[*]}) and run again." >&2
      exit 1
    fi
  fi
fi

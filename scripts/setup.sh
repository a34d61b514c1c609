#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian machine with Python >= 3.11: the restic system package,
# a virtualenv in .venv, and vaultkeeper with its development dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "setup: vaultkeeper needs Python >= 3.11 (found: $("$PYTHON" --version 2>&1))." >&2
  echo "setup: install it (apt-get install python3) or set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

if ! command -v restic >/dev/null 2>&1; then
  echo "setup: installing restic (Debian package)…" >&2
  apt_install restic
fi

# age: the emergency package's encrypted archive is tested (and opened) with the standard tool.
if ! command -v age >/dev/null 2>&1; then
  echo "setup: installing age (Debian package)…" >&2
  apt_install age
fi

# Chromium (headless): the tests look at reports and the mirror as a person would.
if ! command -v chromium >/dev/null 2>&1; then
  echo "setup: installing chromium (Debian package, for headless screenshots)…" >&2
  apt_install chromium
fi

if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    echo "setup: installing python3-venv…" >&2
    apt_install python3-venv
    "$PYTHON" -m venv .venv
  fi
fi

# Reinstall only when the dependency list changed (keeps repeated runs fast).
stamp=.venv/.vaultkeeper-deps
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || ! .venv/bin/python -c 'import vaultkeeper' 2>/dev/null; then
  echo "setup: installing Python dependencies into .venv…" >&2
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$want" > "$stamp"
fi

#!/usr/bin/env bash
# The whole test suite: lint (ruff), types (mypy), the import contracts (lint-imports), then
# pytest with two workers per core (pytest-xdist; a test file's tests stay together on one
# worker). Most tests spend their time waiting on real subprocesses, servers and timers, so a
# core serves two workers. Extra arguments go to pytest (`-n 0` runs it in one process).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff" >&2
.venv/bin/ruff check vaultkeeper tests scripts
echo "== mypy" >&2
.venv/bin/mypy
echo "== lint-imports" >&2
.venv/bin/lint-imports
echo "== pytest" >&2
.venv/bin/pytest -q -n "$(( $(nproc) * 2 ))" --dist loadfile "$@"

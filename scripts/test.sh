#!/usr/bin/env bash
# The whole test suite: lint (ruff), types (mypy), the import contracts (lint-imports), then
# pytest. Extra arguments go to pytest.
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
.venv/bin/pytest -q "$@"

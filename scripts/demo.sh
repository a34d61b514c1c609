#!/usr/bin/env bash
# The main job on the embedded default: the built-in CRM sandbox exported into ./demo/export.
# Safe to run again: the demo configuration is kept, the export is replaced.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VK=.venv/bin/vaultkeeper
if [ ! -f demo/vaultkeeper.toml ]; then
  "$VK" init --demo --dir demo
fi
"$VK" --config demo/vaultkeeper.toml config check
"$VK" --config demo/vaultkeeper.toml export --out demo/export --overwrite
echo "demo: export written to demo/export (manifest: demo/export/manifest.json)" >&2

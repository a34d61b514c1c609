"""Benchmark: loading 1M contacts into the SQLite mirror vs a bare ``sqlite3.executemany`` load.

Usage: .venv/bin/python scripts/bench_mirror.py [--records 1000000] [--work DIR] [--no-drill]

Generates an export of N sandbox contacts with all 102 properties (canonical NDJSON, schema and
manifest exactly as the export writes them; not timed). Then, each side in its own process
(peak RSS from ``wait4``), alternating ``--repeat`` times:

- **bare**: read the file, ``orjson.loads`` each line, take the same values with the same
  C-level ``itemgetter``, ``executemany`` in batches of 2000 into an equivalent table (same
  columns and types, ``id`` primary key, same pragmas); nothing else;
- **mirror**: ``vaultkeeper.db.mirror.load_export`` — the same rows plus the per-record SHA-256
  content digest, the file SHA-256, schema hash, duplicate-id handling, the FTS5 index, relation
  checks, ANALYZE, fsync and the atomic rename.

Target: mirror / bare ≤ 1.5, peak RSS < 300 MB. Then (unless --no-drill) a full drill of the
same export backed up into a fresh local restic repository: ``vaultkeeper drill --json`` in its
own process, with its check / restore / load / reconcile breakdown.
Writes bench-results/mirror.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from operator import itemgetter
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent


def generate(folder: Path, records: int) -> int:
    """An export of N contacts, written with the export's own writer and manifest writer."""
    from vaultkeeper.digest import canonical_json
    from vaultkeeper.exportfmt import write_manifest
    from vaultkeeper.sandbox import gen_hubspot
    from vaultkeeper.sandbox.data import Dataset, iso_ms
    from vaultkeeper.sandbox.hs_schema import properties_payload
    from vaultkeeper.services.export import NdjsonWriter, prepare_out_dir

    prepare_out_dir(folder, overwrite=False)
    ds = Dataset(records, seed=1)
    schema = canonical_json({"results": list(properties_payload("contacts"))})
    (folder / "schema" / "contacts.json").write_bytes(schema)
    writer = NdjsonWriter(folder / "objects" / "contacts.ndjson")
    archived = 0
    for i in range(records):
        props = gen_hubspot.contact(ds, i)
        gone = i % 33 == 0
        archived += gone
        record = {"id": str(1001 + i), "properties": props, "archived": gone,
                  "createdAt": props.get("createdate"), "updatedAt": props.get("lastmodifieddate")}
        if gone:
            record["archivedAt"] = iso_ms(1748736000000 - 86400000)
        writer.write(record)
    entry = writer.close()
    import hashlib

    manifest = {
        "format": "vaultkeeper-export/1", "tool": {"name": "vaultkeeper", "version": "bench"},
        "connector": {"name": "hubspot", "version": "bench"}, "source": {"api": "bench"},
        "started_at": "2026-01-01T00:00:00+00:00", "finished_at": "2026-01-01T00:00:00+00:00",
        "duration_s": 0, "status": "complete", "problems": [], "order": ["contacts"],
        "excluded": [], "relations": {}, "requests": {},
        "objects": {"contacts": {
            "count": entry["count"], "live": entry["count"] - archived, "archived": archived,
            "quarantined": 0, "source_count": None, "difference": None,
            "file": "objects/contacts.ndjson", "sha256": entry["sha256"], "bytes": entry["bytes"],
            "content_digest": entry["content_digest"], "quarantine_file": None,
            "primary_key": "id",
            "schema": {"file": "schema/contacts.json",
                       "sha256": hashlib.sha256(schema).hexdigest(),
                       "properties": len(properties_payload("contacts"))},
            "duration_s": 0}},
    }
    write_manifest(folder, manifest)
    return int(entry["bytes"])


def bare(export: Path, out: Path) -> None:
    """The baseline: the same rows into an equivalent table with nothing but executemany."""
    schema = orjson.loads((export / "schema" / "contacts.json").read_bytes())
    props = [p["name"] for p in schema["results"]]
    types = {p["name"]: "REAL" if p["type"] == "number" else "TEXT" for p in schema["results"]}
    top = ["createdAt", "updatedAt", "archivedAt"]
    cols = ['"id" TEXT NOT NULL PRIMARY KEY', '"_archived" INTEGER NOT NULL',
            '"_raw" TEXT NOT NULL'] + [f'"{c}" TEXT' for c in top] + \
           [f'"{p}" {types[p]}' for p in props]
    conn = sqlite3.connect(out, isolation_level=None)
    for pragma in ("page_size=16384", "journal_mode=OFF", "synchronous=OFF",
                   "cache_size=-65536", "temp_store=FILE"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute(f"CREATE TABLE contacts ({', '.join(cols)})")
    sql = f"INSERT INTO contacts VALUES ({', '.join('?' * len(cols))})"
    get_props = itemgetter(*props)
    conn.execute("BEGIN")
    rows = []
    with (export / "objects" / "contacts.ndjson").open("rb") as handle:
        for line in handle:
            line = line.rstrip(b"\n")
            rec = orjson.loads(line)
            rows.append((rec["id"], rec["archived"], line.decode(), rec.get("createdAt"),
                         rec.get("updatedAt"), rec.get("archivedAt"),
                         *get_props(rec["properties"])))
            if len(rows) >= 2000:
                conn.executemany(sql, rows)
                rows = []
    conn.executemany(sql, rows)
    conn.execute("COMMIT")
    conn.close()


def mirror(export: Path, out: Path) -> None:
    """The mirror load."""
    from vaultkeeper.db.mirror import load_export

    result = load_export(export, out, info={"bench": True})
    entry = result.manifest["objects"]["contacts"]
    ok = (result.objects["contacts"].content_digest == entry["content_digest"]
          and result.objects["contacts"].rows == entry["count"])
    print(json.dumps({"digest_ok": ok, "mirror_bytes": result.bytes}), file=sys.stderr)
    if not ok:
        raise SystemExit(1)


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stdout of a child process."""
    began = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - began
    code = os.waitstatus_to_exitcode(status)
    if code not in (0,):
        raise SystemExit(f"{argv[2:4]} exited {code}")
    return seconds, usage.ru_maxrss / 1024, out


def drill(work: Path, export: Path) -> dict[str, object]:
    """Back the export up into a local repository (not timed), then time a full drill."""
    from vaultkeeper.config import Secret
    from vaultkeeper.restic import Restic
    from vaultkeeper.storage.locations import Location

    key = work / "key"
    key.write_text("bench-password\n")
    key.chmod(0o600)
    repo = work / "repo"
    location = Location(name="bench", kind="local", display_url=str(repo), url=str(repo))
    restic = Restic(location, Secret(kind="file", ref=str(key)), cache_dir=work / "cache")
    restic.init()
    began = time.perf_counter()
    restic.backup(export, tags=["vaultkeeper"])
    backup_s = time.perf_counter() - began
    config = work / "vaultkeeper.toml"
    config.write_text(f'[source]\nconnector = "sandbox"\n\n[repository]\npassword = '
                      f'{{ file = "{key}" }}\n\n[[locations]]\nname = "bench"\nurl = "{repo}"\n')
    seconds, rss, out = timed([sys.executable, "-m", "vaultkeeper", "--config", str(config),
                               "drill", "--json"])
    report = json.loads(out)
    return {"backup_s": round(backup_s, 2), "wall_s": round(seconds, 2),
            "peak_rss_mb": round(rss, 1), "result": report["result"],
            "read_data_subset": report["read_data_subset"],
            "durations": report["durations"], "records": report["records"]}


def main() -> int:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--no-drill", action="store_true")
    parser.add_argument("--side", choices=("bare", "mirror"), help=argparse.SUPPRESS)
    parser.add_argument("--export", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--target", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "mirror.json")
    args = parser.parse_args()
    if args.side:
        (bare if args.side == "bare" else mirror)(args.export, args.target)
        return 0
    work = Path(tempfile.mkdtemp(prefix="vk-bench-mirror-", dir=args.work))
    try:
        export = work / "export"
        began = time.perf_counter()
        size = generate(export, args.records)
        print(f"generated {args.records} records, {size / 1e6:.0f} MB in "
              f"{time.perf_counter() - began:.0f} s", file=sys.stderr)
        runs: dict[str, list[tuple[float, float]]] = {"bare": [], "mirror": []}
        for _ in range(args.repeat):
            for side in ("bare", "mirror"):
                target = work / f"{side}.db"
                target.unlink(missing_ok=True)
                seconds, rss, _ = timed([sys.executable, __file__, "--side", side, "--export",
                                         str(export), "--target", str(target)])
                runs[side].append((seconds, rss))
                print(f"{side}: {seconds:.2f} s, peak RSS {rss:.0f} MB", file=sys.stderr)
                size_db = target.stat().st_size
                target.unlink()
        median = {side: sorted(r[0] for r in v)[len(v) // 2] for side, v in runs.items()}
        rss = {side: max(r[1] for r in v) for side, v in runs.items()}
        results: dict[str, object] = {
            "records": args.records, "export_mb": round(size / 1e6, 1),
            "mirror_mb": round(size_db / 1e6, 1),
            "bare_s": round(median["bare"], 2), "mirror_s": round(median["mirror"], 2),
            "ratio": round(median["mirror"] / median["bare"], 3),
            "peak_rss_mb": {k: round(v, 1) for k, v in rss.items()},
            "runs": runs, "targets": {"ratio_max": 1.5, "peak_rss_mb_max": 300},
        }
        passed = results["ratio"] <= 1.5 and rss["mirror"] < 300  # type: ignore[operator]
        if not args.no_drill:
            results["drill"] = drill(work, export)
            print(f"drill: {results['drill']}", file=sys.stderr)
            passed = passed and results["drill"]["result"] == "verified"  # type: ignore[index]
        results["pass"] = passed
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0 if results["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())

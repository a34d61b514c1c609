"""Benchmark: vaultkeeper's backup stage vs plain restic on the same export folder.

Usage: .venv/bin/python scripts/bench_backup.py [--records 1000000] [--work DIR]
Generates an export of N sandbox contacts (not timed), then measures, each into a fresh
repository: plain `restic backup` vs vaultkeeper's `Restic.backup` (target ≤ 1.2×); a second
vaultkeeper backup of the unchanged folder (target: < 1 % of the first's bytes added); plain
`restic copy` vs vaultkeeper's `copy_from` (target ≤ 1.2×). Writes bench-results/backup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vaultkeeper.config import Secret
from vaultkeeper.digest import canonical_json
from vaultkeeper.restic import Restic
from vaultkeeper.sandbox import gen_hubspot
from vaultkeeper.sandbox.data import Dataset
from vaultkeeper.storage.locations import Location

ROOT = Path(__file__).resolve().parent.parent


def generate(folder: Path, records: int) -> int:
    """Write N contacts as the export would (canonical NDJSON) plus a small manifest."""
    ds = Dataset(records, seed=1)
    (folder / "objects").mkdir(parents=True)
    size = 0
    with (folder / "objects" / "contacts.ndjson").open("wb", buffering=1 << 20) as out:
        for i in range(records):
            line = canonical_json({"id": str(1000 + i), "properties":
                                   gen_hubspot.contact(ds, i), "archived": False}) + b"\n"
            out.write(line)
            size += len(line)
    (folder / "manifest.json").write_text(json.dumps({"records": records}))
    return size


def local(path: Path) -> Location:
    return Location(name=path.name, kind="local", display_url=str(path), url=str(path))


def plain(args: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    began = time.perf_counter()
    subprocess.run(["restic", *args], env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - began


def main() -> int:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "backup.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vk-bench-backup-", dir=args.work))
    try:
        key = work / "key"
        key.write_text("bench-password\n")
        key.chmod(0o600)
        secret = Secret(kind="file", ref=str(key))
        env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"),
               "RESTIC_PASSWORD_FILE": str(key), "RESTIC_CACHE_DIR": str(work / "cache"),
               "LANG": "C"}
        export = work / "export"
        began = time.perf_counter()
        size = generate(export, args.records)
        print(f"generated {args.records} records, {size / 1e6:.0f} MB in "
              f"{time.perf_counter() - began:.0f} s", file=sys.stderr)
        for repo in ("plain", "vk", "plain-copy", "vk-copy"):
            subprocess.run(["restic", "-r", str(work / repo), "init", "-q"], env=env, check=True)
        t_plain = plain(["-r", str(work / "plain"), "backup", "-q", "."], env, cwd=export)
        vk = Restic(local(work / "vk"), secret, cache_dir=work / "cache")
        began = time.perf_counter()
        first = vk.backup(export, tags=["bench"])
        t_vk = time.perf_counter() - began
        (export / "manifest.json").write_text(json.dumps({"records": args.records, "run": 2}))
        second = vk.backup(export, tags=["bench"])
        t_copy_plain = plain(["-r", str(work / "plain-copy"), "copy", "--from-repo",
                              str(work / "plain"), "--from-password-file", str(key)], env)
        target = Restic(local(work / "vk-copy"), secret, cache_dir=work / "cache")
        began = time.perf_counter()
        target.copy_from(Restic(local(work / "plain"), secret, cache_dir=work / "cache"))
        t_copy_vk = time.perf_counter() - began
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results = {
        "records": args.records, "export_mb": round(size / 1e6, 1),
        "backup": {"plain_s": round(t_plain, 2), "vaultkeeper_s": round(t_vk, 2),
                   "ratio": round(t_vk / t_plain, 3)},
        "second_backup": {"first_added": first.data_added, "second_added": second.data_added,
                          "percent": round(100 * second.data_added / max(1, first.data_added),
                                           3)},
        "copy": {"plain_s": round(t_copy_plain, 2), "vaultkeeper_s": round(t_copy_vk, 2),
                 "ratio": round(t_copy_vk / t_copy_plain, 3)},
        "targets": {"backup_ratio_max": 1.2, "second_percent_max": 1.0, "copy_ratio_max": 1.2},
    }
    results["pass"] = (results["backup"]["ratio"] <= 1.2
                       and results["second_backup"]["percent"] < 1.0
                       and results["copy"]["ratio"] <= 1.2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0 if results["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())

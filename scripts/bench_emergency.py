"""Benchmark: the emergency package at scale, and duplicate detection's speed and quality.

Usage: .venv/bin/python scripts/bench_emergency.py [--sizes 100000,300000,1000000]
       [--dedupe 25000,50000,100000] [--work DIR] [--skip-package] [--package-only]
The 1M mode: ``--sizes 100000,300000,1000000 --package-only [--trace-rss]`` (package builds
only; about 30 min on two idle cores, much longer under load; ``--trace-rss``: the build prints
VmRSS/VmHWM every 50,000 records to stderr).

1. Package: generates a HubSpot-shaped export of N sandbox contacts (plus N/5 companies and the
   contact→company relation; not timed), times the yardstick — a bare two-pass NDJSON → CSV
   conversion of the same export (``bare_conversion``) — then builds the package (target
   hubspot) in a child process per size and reads its peak RSS (VmHWM, and ru_maxrss from
   wait4): memory must stay flat (bounded caches fill during the first ~200k records, so it is
   judged from the second-largest size to the largest: ``package_summary.memory_flat``).
   Reports, measured in the same run, the wall ratio and the CPU ratio (the child's user +
   system time, its workers included, against the yardstick's; the fairer one on a shared
   machine) and the load average; the yardstick runs before and after the build and the
   ratios use the mean of the two (the machine's speed drifts within minutes);
   ``package_summary`` holds the worst of each.
   Frictionless validation is timed separately at the smallest size (it is the slowest stage).
   ``stages``: wall and CPU seconds (with the workers it waited for) of each stage of a build
   (``duplicate candidates`` is duplicate detection). ``planted_recall``: the share of the
   sandbox's own near-duplicates (about 2.3 % of its contacts are typed in again) among the
   build's duplicate candidates; ``candidates_planted``: the share of candidates that are such
   pairs. An export folder made by an older sandbox (``GENERATOR``) is made again.
2. Duplicate detection on 25k/50k/100k persons of the labelled member register
   (``vaultkeeper.sandbox.register``: ~8 % second registrations with missing fields, typos in
   every field, nicknames, swapped first/last names, swapped digits in postcodes, phones and
   dates of birth; ~6 % households and parents/children as hard negatives). Reports time,
   comparisons, growth exponent, precision and recall.
Writes bench-results/emergency.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vaultkeeper.db.scratch import Scratch  # noqa: E402
from vaultkeeper.digest import canonical_json  # noqa: E402
from vaultkeeper.sandbox import gen_hubspot, hs_schema, register  # noqa: E402
from vaultkeeper.sandbox.data import Dataset  # noqa: E402
from vaultkeeper.services.emergency import dedupe  # noqa: E402
from vaultkeeper.services.emergency.clean import check_date  # noqa: E402

# ------------------------------------------------------------------------------ the export
GENERATOR = 2
"""Bumped when the sandbox's contacts change (2: postcodes vary within each place); an export
made by another generator is made again."""


def export_current(folder: Path) -> bool:
    """Whether ``folder`` holds a complete export made by this ``GENERATOR``."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(manifest.get("source", {}).get("generator") == GENERATOR)


def generate_export(folder: Path, contacts: int) -> dict[str, int]:
    """A HubSpot-shaped export folder (objects, relation, schema, manifest)."""
    ds = Dataset(contacts, seed=1)
    for sub in ("objects", "relations", "schema"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    companies = max(1, contacts // 5)
    link = ds.links["contacts__companies"]
    rel_count = 0
    with (folder / "objects" / "contacts.ndjson").open("wb", buffering=1 << 20) as out, \
            (folder / "relations" / "contacts__companies.ndjson").open(
                "wb", buffering=1 << 20) as rel:
        for i in range(contacts):
            cid = str(hs_schema.ID_BASES["contacts"] + i)
            out.write(canonical_json({"id": cid, "properties": gen_hubspot.contact(ds, i),
                                      "archived": False, "createdAt": "2016-01-01T00:00:00Z",
                                      "updatedAt": "2020-01-01T00:00:00Z"}) + b"\n")
            j = link.raw_target(i)
            if 0 <= j < companies:
                rel.write(canonical_json({"from_id": cid, "to_id": str(
                    hs_schema.ID_BASES["companies"] + j), "type": "contact_to_company"}) + b"\n")
                rel_count += 1
    with (folder / "objects" / "companies.ndjson").open("wb", buffering=1 << 20) as out:
        for j in range(companies):
            out.write(canonical_json({"id": str(hs_schema.ID_BASES["companies"] + j),
                                      "properties": gen_hubspot.company(ds, j),
                                      "archived": False}) + b"\n")
    for obj in ("contacts", "companies"):
        props = list(hs_schema.properties_payload(obj))
        (folder / "schema" / f"{obj}.json").write_bytes(canonical_json({"results": props}))
    manifest = {
        "format": "vaultkeeper-export/1", "connector": {"name": "hubspot", "version": "bench"},
        "source": {"bench": "generated", "generator": GENERATOR}, "status": "complete",
        "problems": [],
        "order": ["contacts", "companies"],
        "objects": {o: {"count": n, "archived": 0, "file": f"objects/{o}.ndjson",
                        "schema": {"file": f"schema/{o}.json"}}
                    for o, n in (("contacts", contacts), ("companies", companies))},
        "relations": {"contacts__companies": {"path": "relations/contacts__companies.ndjson",
                                              "count": rel_count}},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return {"contacts": contacts, "companies": companies, "relations": rel_count}


def bare_conversion(export: Path, out: Path) -> float:
    """The yardstick: a bare two-pass NDJSON → CSV conversion of every object and relation.

    Pass 1 reads every record to learn the columns (HubSpot properties flattened), pass 2
    writes the CSV with the standard library — what any converter must do at least.
    Returns the seconds taken.
    """
    import csv

    import orjson

    began = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    files = sorted((export / "objects").glob("*.ndjson")) + sorted(
        (export / "relations").glob("*.ndjson"))

    def flat(record: dict[str, object]) -> dict[str, object]:
        props = record.get("properties")
        if isinstance(props, dict):
            return {"id": record.get("id"), **props, "archived": record.get("archived")}
        return record

    for path in files:
        columns: dict[str, None] = {}
        with path.open("rb") as fh:
            for line in fh:
                columns.update(dict.fromkeys(flat(orjson.loads(line))))
        with path.open("rb") as fh, (out / f"{path.stem}.csv").open(
                "w", newline="", encoding="utf-8") as target:
            writer = csv.DictWriter(target, fieldnames=list(columns))
            writer.writeheader()
            for line in fh:
                writer.writerow(flat(orjson.loads(line)))
    return time.perf_counter() - began


def planted(contacts: int, package: Path) -> dict[str, float]:
    """The sandbox's own near-duplicates (contacts typed in again, ``gen_hubspot.person_of``)
    against the package's duplicate candidates: how many of the planted pairs were found, and
    how many candidates are planted pairs (the rest pair strangers or chance look-alikes; the
    sandbox labels nothing else, so this is no precision: the labelled register measures it)."""
    import csv

    ds = Dataset(contacts, seed=1)
    groups: dict[int, list[int]] = {}
    for i in range(contacts):
        pid = gen_hubspot.person_of(ds, i)
        if pid != i:
            groups.setdefault(pid, []).append(i)
    truth: set[tuple[int, int]] = set()
    for pid, copies in groups.items():
        members = sorted(copies + ([pid] if gen_hubspot.person_of(ds, pid) == pid else []))
        truth.update((a, b) for n, a in enumerate(members) for b in members[n + 1:])
    base = hs_schema.ID_BASES["contacts"]
    found: set[tuple[int, int]] = set()
    with (package / "quality" / "duplicates.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            a, b = int(row["legacy_id_a"]) - base, int(row["legacy_id_b"]) - base
            found.add((min(a, b), max(a, b)))
    hits = len(found & truth)
    return {"planted_pairs": len(truth), "planted_found": hits,
            "planted_recall": round(hits / max(1, len(truth)), 4),
            "candidates_planted": round(hits / max(1, len(found)), 4)}


CHILD = """
import sys, time, json
from pathlib import Path
from vaultkeeper.config import load_settings
from vaultkeeper.services.emergency import build_package
from vaultkeeper.services.emergency.result import BuildObserver
settings = load_settings(Path(sys.argv[1]))
began = time.perf_counter()
cpu = time.process_time()

import resource

def _cpu():
    # this process and the workers it has waited for (the split passes, duplicate detection)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime

class Stages(BuildObserver):
    # wall and CPU seconds of every stage, into the result
    stage_name, done, trace = "", 0, False
    def __init__(self):
        self.times, self.mark = {}, (time.perf_counter(), _cpu())
    def stage(self, name, total):
        self.close()
        self.stage_name, self.done = name, 0
        if self.trace:
            self.show()
    def close(self):
        now = (time.perf_counter(), _cpu())
        if self.stage_name:
            self.times[self.stage_name] = [round(now[0] - self.mark[0], 2),
                                           round(now[1] - self.mark[1], 2)]
        self.mark = now

class Trace(Stages):
    # --trace-rss: VmRSS/VmHWM every 50,000 records to stderr (for builds too long to finish)
    trace = True
    def advance(self, n):
        self.done += n
        if self.done % 50000 < n:
            self.show()
    def show(self):
        mem = {k: round(int(v.split()[0]) / 1024, 1) for k, _, v in (
            line.partition(":") for line in open("/proc/self/status")) if k in ("VmRSS", "VmHWM")}
        print(json.dumps({"t": round(time.perf_counter() - began), "stage": self.stage_name,
                          "records": self.done} | mem), file=sys.stderr, flush=True)

observer = Trace() if sys.argv[5] == "1" else Stages()
r = build_package(Path(sys.argv[2]), Path(sys.argv[3]), settings, target="hubspot",
                  validate=sys.argv[4] == "1", observer=observer)
observer.close()
# VmHWM is this process's own high-water mark (wait4's ru_maxrss would include the memory of
# the parent the child was forked from, before exec).
hwm = next(int(line.split()[1]) for line in open("/proc/self/status")
           if line.startswith("VmHWM"))
print(json.dumps({"seconds": time.perf_counter() - began,
                  "cpu_seconds": round(time.process_time() - cpu, 2), "valid": r.valid,
                  "duplicates": r.duplicates, "errors": r.validation_errors[:3],
                  "peak_rss_mb": round(hwm / 1024, 1),
                  "stages": observer.times}))
"""


def build_child(config: Path, export: Path, out: Path, validate: bool,
                trace: bool = False) -> dict[str, float]:
    """Run one build in a child process: its wall and CPU time and its peak RSS.

    The child reports its own VmHWM; the parent reaps it with ``os.wait4`` for its rusage:
    CPU = user + system time of the child and every process it waited for (a worker pool
    counts), ``ru_maxrss`` its peak RSS as the kernel accounts it (which can include the
    parent's memory at the moment of the spawn: see VmHWM for the child's own).
    """
    import subprocess

    shutil.rmtree(out, ignore_errors=True)
    began = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(config), str(export), str(out),
                             "1" if validate else "0", "1" if trace else "0"],
                            stdout=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout is not None
    out_bytes = proc.stdout.read()
    proc.stdout.close()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0
    result: dict[str, float] = json.loads(out_bytes)
    result["wall_seconds"] = round(time.perf_counter() - began, 2)
    result["cpu_seconds_with_workers"] = round(usage.ru_utime + usage.ru_stime, 2)
    result["ru_maxrss_mb"] = round(usage.ru_maxrss / 1024, 1)
    return result


# ------------------------------------------------------------------ labelled dedupe set
def labelled_persons(n: int, seed: int = 14) -> tuple[list[dedupe.Person], set[frozenset[int]]]:
    """The labelled member register (vaultkeeper.sandbox.register), cleaned as the package does.

    Dates of birth go through ``check_date`` (region NL, day first) and phones through the
    package's phone key, exactly as a build from a CSV dump would.
    """
    reg = register.generate(n, seed=seed)
    people = []
    for idx, m in enumerate(reg.rows):
        birth = check_date(m.birth, "NL").value if m.birth else ""
        people.append(dedupe.make_person(
            str(idx), first=m.first, last=register.full_last(m), email=m.email,
            phones=[m.phone], street=m.street, postcode=m.postcode, city=m.city, birth=birth,
            refs=[m.number] if m.number else []))
    return people, reg.truth


def run_dedupe(n: int, work: Path) -> dict[str, float]:
    """Blocking + scoring over ``n`` labelled persons: time, work, precision and recall."""
    people, truth = labelled_persons(n)
    folder = work / f"dedupe-{n}"   # the store and its blocking-key part (``-keys``)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o700, parents=True)
    path = folder / "scratch.db"
    scratch = Scratch(path)
    began = time.perf_counter()
    feats, keys = [], []
    for idx, person in enumerate(people):
        feats.append((idx, person.pack()))
        keys += [(k, idx) for k in dedupe.blocking_keys(person)]
    scratch.put_features(feats)
    scratch.add_keys(keys)
    stats = dedupe.find_candidates(scratch)
    seconds = time.perf_counter() - began
    found = {frozenset((a, b)) for a, b, _s, _r in scratch.pairs()}
    scratch.close()
    shutil.rmtree(folder, ignore_errors=True)
    hits = len(found & truth)
    return {"persons": n, "seconds": round(seconds, 2), "comparisons": stats.comparisons,
            "all_pairs": n * (n - 1) // 2, "candidates": len(found), "true_pairs": len(truth),
            "precision": round(hits / max(1, len(found)), 4),
            "recall": round(hits / max(1, len(truth)), 4)}


class _Done(Exception):
    """The selected parts are measured."""


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Worst wall and CPU ratios against the bare conversion, and how peak RSS grows.

    Flat memory means bounded whatever the record count. The build's caches are bounded (the
    scratch store's SQLite page cache, the LRU caches of names, phones and dates) but fill
    during the first ~200,000 records, so a 100k build has not reached its plateau: with three
    sizes or more, flatness is judged from the second-largest to the largest size
    (``peak_rss_growth_warm`` ≤ 1.1); ``peak_rss_growth`` is always from the smallest."""
    small, large = rows[0], rows[-1]
    growth = large["peak_rss_mb"] / small["peak_rss_mb"]
    out = {"sizes": [r["contacts"] for r in rows],
           "wall_ratio_max": max(r["ratio"] for r in rows),
           "cpu_ratio_max": max(r["cpu_ratio"] for r in rows),
           "target_ratio": 4.0,
           "peak_rss_mb": {str(r["contacts"]): r["peak_rss_mb"] for r in rows},
           "ru_maxrss_mb": {str(r["contacts"]): r["ru_maxrss_mb"] for r in rows},
           "peak_rss_growth": round(growth, 2),
           "records_growth": round(large["contacts"] / small["contacts"], 1),
           "memory_flat": growth <= 1.25}
    if len(rows) >= 3:
        warm = large["peak_rss_mb"] / rows[-2]["peak_rss_mb"]
        out |= {"peak_rss_growth_warm": round(warm, 2),
                "records_growth_warm": round(large["contacts"] / rows[-2]["contacts"], 1),
                "memory_flat": warm <= 1.1}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--dedupe", default="25000,50000,100000")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--skip-package", action="store_true")
    parser.add_argument("--trace-rss", action="store_true",
                        help="the build prints VmRSS/VmHWM every 50,000 records to stderr")
    parser.add_argument("--package-only", action="store_true",
                        help="only the package builds (the 1M mode: time ratios, peak RSS)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "emergency.json")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="vk-bench-emergency-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {"machine": {"cpus": os.cpu_count(),
                                              "python": sys.version.split()[0]}}
    try:
        if not args.skip_package:
            config = work / "vaultkeeper.toml"
            config.write_text(f'[source]\nconnector = "sandbox"\n\n[paths]\nstate_dir = '
                              f'"{work / "state"}"\n\n[emergency]\ndefault_region = "GB"\n')
            package: list[dict[str, object]] = []
            sizes = [int(s) for s in args.sizes.split(",")]
            for n in sizes:
                export = work / f"export-{n}"
                if not export_current(export):
                    shutil.rmtree(export, ignore_errors=True)
                    began = time.perf_counter()
                    counts = generate_export(export, n)
                    print(f"generated {counts} in {time.perf_counter() - began:.0f} s",
                          flush=True)
                shutil.rmtree(work / "bare", ignore_errors=True)
                cpu = time.process_time()
                bare = bare_conversion(export, work / "bare")
                bare_cpu = time.process_time() - cpu
                shutil.rmtree(work / "bare", ignore_errors=True)
                # printed now: a 1M build on a loaded machine may be stopped before its row
                print(json.dumps({"contacts": n, "bare_seconds": round(bare, 2),
                                  "bare_cpu_seconds": round(bare_cpu, 2),
                                  "load_average": os.getloadavg()[0]}), flush=True)
                row = build_child(config, export, work / f"pkg-{n}", validate=False,
                                  trace=args.trace_rss)
                # The yardstick again after the build: the machine's speed drifts by more than
                # a round of optimisation within minutes (the same bare conversion took 47.7 s
                # and 60.1 s in one afternoon); the ratios use the mean of the two, which
                # brackets the build, and both are reported.
                cpu = time.process_time()
                after = bare_conversion(export, work / "bare")
                after_cpu = time.process_time() - cpu
                shutil.rmtree(work / "bare", ignore_errors=True)
                mean, mean_cpu = (bare + after) / 2, (bare_cpu + after_cpu) / 2
                row |= {"contacts": n, "bare_seconds": round(bare, 2),
                        "bare_cpu_seconds": round(bare_cpu, 2),
                        "bare_after_seconds": round(after, 2),
                        "bare_after_cpu_seconds": round(after_cpu, 2),
                        "ratio": round(row["seconds"] / mean, 2),
                        "cpu_ratio": round(row["cpu_seconds_with_workers"] / mean_cpu, 2),
                        "ratio_to_bare_before": round(row["seconds"] / bare, 2),
                        "load_average": os.getloadavg()[0]}
                row |= planted(n, work / f"pkg-{n}")
                print(json.dumps(row), flush=True)
                package.append(row)
                shutil.rmtree(work / f"pkg-{n}", ignore_errors=True)
            results["package_summary"] = summary(package)
            n = sizes[0]
            if args.package_only:
                results["package"] = package
                raise _Done
            row = build_child(config, work / f"export-{n}", work / f"pkg-{n}", validate=True)
            row |= {"contacts": n, "with_frictionless_validation": True}
            print(json.dumps(row), flush=True)
            package.append(row)
            results["package"] = package
        if args.package_only:
            raise _Done
        dd = [run_dedupe(int(n), work) for n in args.dedupe.split(",")]
        for row in dd:
            print(json.dumps(row), flush=True)
        if len(dd) >= 2:
            a, b = dd[0], dd[-1]
            exponent = math.log(b["seconds"] / a["seconds"]) / math.log(
                b["persons"] / a["persons"])
            results["dedupe_time_exponent"] = round(exponent, 2)
        results["dedupe"] = dd
    except _Done:
        pass
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

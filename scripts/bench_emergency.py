"""Benchmark: the emergency package at scale, and duplicate detection's speed and quality.

Usage: .venv/bin/python scripts/bench_emergency.py [--sizes 100000,1000000]
       [--dedupe 25000,50000,100000] [--work DIR] [--skip-package]

1. Package: generates a HubSpot-shaped export of N sandbox contacts (plus N/5 companies and the
   contact→company relation; not timed), then builds the package (target hubspot) in a child
   process per size and reads its peak RSS (VmHWM): memory must stay flat from 100k to 1M.
   Frictionless validation is timed separately at the smallest size (it is the slowest stage).
2. Duplicate detection on 25k/50k/100k persons of a labelled set: clean synthetic persons plus
   ~5 % duplicates with typos, swapped first/last names, changed e-mail domains and missing
   fields. Reports time, comparisons, growth exponent, precision and recall.
Writes bench-results/emergency.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vaultkeeper.db.scratch import Scratch  # noqa: E402
from vaultkeeper.digest import canonical_json  # noqa: E402
from vaultkeeper.sandbox import gen_hubspot, hs_schema  # noqa: E402
from vaultkeeper.sandbox.data import Dataset  # noqa: E402
from vaultkeeper.services.emergency import dedupe  # noqa: E402


# ------------------------------------------------------------------------------ the export
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
        "source": {"bench": "generated"}, "status": "complete", "problems": [],
        "order": ["contacts", "companies"],
        "objects": {o: {"count": n, "archived": 0, "file": f"objects/{o}.ndjson",
                        "schema": {"file": f"schema/{o}.json"}}
                    for o, n in (("contacts", contacts), ("companies", companies))},
        "relations": {"contacts__companies": {"path": "relations/contacts__companies.ndjson",
                                              "count": rel_count}},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return {"contacts": contacts, "companies": companies, "relations": rel_count}


CHILD = """
import sys, time, json
from pathlib import Path
from vaultkeeper.config import load_settings
from vaultkeeper.services.emergency import build_package
settings = load_settings(Path(sys.argv[1]))
began = time.perf_counter()
r = build_package(Path(sys.argv[2]), Path(sys.argv[3]), settings, target="hubspot",
                  validate=sys.argv[4] == "1")
# VmHWM is this process's own high-water mark (wait4's ru_maxrss would include the memory of
# the parent the child was forked from, before exec).
hwm = next(int(line.split()[1]) for line in open("/proc/self/status")
           if line.startswith("VmHWM"))
print(json.dumps({"seconds": time.perf_counter() - began, "valid": r.valid,
                  "duplicates": r.duplicates, "errors": r.validation_errors[:3],
                  "peak_rss_mb": round(hwm / 1024, 1)}))
"""


def build_child(config: Path, export: Path, out: Path, validate: bool) -> dict[str, float]:
    """Run one build in a child process; its time and peak RSS (the child's VmHWM)."""
    import subprocess

    shutil.rmtree(out, ignore_errors=True)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(config), str(export), str(out),
                             "1" if validate else "0"], stdout=subprocess.PIPE, cwd=ROOT)
    out_bytes, _ = proc.communicate()
    assert proc.returncode == 0
    result: dict[str, float] = json.loads(out_bytes)
    return result


# ------------------------------------------------------------------ labelled dedupe set
FIRST = ["James", "Mary", "Oliver", "Amelia", "Zoë", "Chloé", "Łukasz", "Søren", "José", "Aisha",
         "Priya", "Wei", "Fatima", "Dmitri", "Jürgen", "Noah", "Emma", "Liam", "Sophia", "Lucas",
         "Grace", "Harry", "Freya", "Thomas", "Ava", "William", "Ella", "Daniel", "Niamh", "Seán",
         "Peter", "Susan", "David", "Helen", "Robert", "Linda", "Ahmed", "Leila", "Kwame", "Ama"]
LAST = ["Smith", "Jones", "Williams", "Brown", "Taylor", "Davies", "Evans", "Wilson", "Müller",
        "Schmidt", "Ångström", "van der Berg", "O'Brien", "McDonald", "Kowalski", "García",
        "Dubois", "Johansson", "Nakamura", "Okafor", "Patel", "Singh", "Khan", "Rossi", "Kim",
        "Cohen", "Novák", "Hughes", "Green", "Hall", "Clarke", "Wright", "Walker", "Robinson"]
DOMAINS = ["gmail.com", "outlook.com", "yahoo.co.uk", "web.de", "orange.fr", "icloud.com"]
STREETS = ["High Street", "Station Road", "Church Lane", "Mill Road", "Park Avenue", "Elm Grove"]


def _typo(rnd: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    k = rnd.randrange(len(text) - 1)
    op = rnd.randrange(3)
    if op == 0:
        return text[:k] + text[k + 1] + text[k] + text[k + 2:]        # transposition
    if op == 1:
        return text[:k] + text[k + 1:]                                # deletion
    return text[:k] + rnd.choice("aeiourstn") + text[k + 1:]          # substitution


def labelled_set(n: int, seed: int = 5) -> tuple[list[dict[str, str]], set[frozenset[int]]]:
    """n persons, ~5 % of them duplicates of an earlier one, and the true pairs."""
    rnd = random.Random(seed)
    people: list[dict[str, str]] = []
    truth: set[frozenset[int]] = set()
    for i in range(n):
        if i > 10 and rnd.random() < 0.05:
            j = rnd.randrange(i)
            p = dict(people[j])
            kind = rnd.randrange(4)
            if kind == 0:
                p["first"] = _typo(rnd, p["first"]) if rnd.random() < 0.5 else p["first"]
                p["last"] = _typo(rnd, p["last"])
            elif kind == 1:
                p["first"], p["last"] = p["last"], p["first"]
            elif kind == 2 and p["email"]:
                p["email"] = p["email"].split("@")[0] + "@" + rnd.choice(DOMAINS)
            else:
                for key in rnd.sample(["email", "phone", "street", "postcode", "birth"], 2):
                    p[key] = ""
            truth.add(frozenset((j, i)))
            people.append(p)
            continue
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        local = f"{first.lower()}.{last.lower()}{rnd.randrange(10000)}".replace(" ", "")
        people.append({
            "first": first, "last": last,
            "email": f"{local}@{rnd.choice(DOMAINS)}" if rnd.random() < 0.85 else "",
            "phone": f"+4420{rnd.randrange(10**7, 10**8)}" if rnd.random() < 0.7 else "",
            "street": f"{rnd.randrange(1, 300)} {rnd.choice(STREETS)}"
            if rnd.random() < 0.8 else "",
            "postcode": f"AB{rnd.randrange(1, 99)} {rnd.randrange(1, 9)}CD"
            if rnd.random() < 0.8 else "",
            "city": rnd.choice(["London", "Leeds", "Bristol", "Cardiff"]),
            "birth": f"{rnd.randrange(1930, 2005)}-{rnd.randrange(1, 13):02d}-"
                     f"{rnd.randrange(1, 29):02d}" if rnd.random() < 0.4 else ""})
    # fix truth for chains (a duplicate of a duplicate is a duplicate of the original too)
    parent = list(range(n))

    def root(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x
    for pair in truth:
        a, b = sorted(pair)
        parent[root(b)] = root(a)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    closed = {frozenset((a, b)) for g in groups.values() for x, a in enumerate(g)
              for b in g[x + 1:]}
    return people, closed


def run_dedupe(n: int, work: Path) -> dict[str, float]:
    people, truth = labelled_set(n)
    path = work / f"dedupe-{n}.db"
    path.unlink(missing_ok=True)
    scratch = Scratch(path)
    began = time.perf_counter()
    feats, keys = [], []
    for idx, p in enumerate(people):
        person = dedupe.make_person(str(idx), first=p["first"], last=p["last"],
                                    email=p["email"], phones=[p["phone"]], street=p["street"],
                                    postcode=p["postcode"], city=p["city"], birth=p["birth"])
        feats.append((idx, person.pack()))
        keys += [(k, idx) for k in dedupe.blocking_keys(person)]
    scratch.put_features(feats)
    scratch.add_keys(keys)
    stats = dedupe.find_candidates(scratch)
    seconds = time.perf_counter() - began
    found = {frozenset((a, b)) for a, b, _s, _r in scratch.pairs()}
    scratch.close()
    path.unlink(missing_ok=True)
    hits = len(found & truth)
    return {"persons": n, "seconds": round(seconds, 2), "comparisons": stats.comparisons,
            "all_pairs": n * (n - 1) // 2, "candidates": len(found), "true_pairs": len(truth),
            "precision": round(hits / max(1, len(found)), 4),
            "recall": round(hits / max(1, len(truth)), 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--dedupe", default="25000,50000,100000")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--skip-package", action="store_true")
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
                if not (export / "manifest.json").exists():
                    began = time.perf_counter()
                    counts = generate_export(export, n)
                    print(f"generated {counts} in {time.perf_counter() - began:.0f} s",
                          flush=True)
                row = build_child(config, export, work / f"pkg-{n}", validate=False)
                row |= {"contacts": n}
                print(json.dumps(row), flush=True)
                package.append(row)
                shutil.rmtree(work / f"pkg-{n}", ignore_errors=True)
            n = sizes[0]
            row = build_child(config, work / f"export-{n}", work / f"pkg-{n}", validate=True)
            row |= {"contacts": n, "with_frictionless_validation": True}
            print(json.dumps(row), flush=True)
            package.append(row)
            results["package"] = package
        dd = [run_dedupe(int(n), work) for n in args.dedupe.split(",")]
        for row in dd:
            print(json.dumps(row), flush=True)
        if len(dd) >= 2:
            a, b = dd[0], dd[-1]
            exponent = math.log(b["seconds"] / a["seconds"]) / math.log(
                b["persons"] / a["persons"])
            results["dedupe_time_exponent"] = round(exponent, 2)
        results["dedupe"] = dd
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: requests of an incremental export against a full one, and exact reconciliation.

Usage: .venv/bin/python scripts/bench_incremental.py [--records 100000] [--vendor hubspot]
       [--no-archivals]
A sandbox of N contacts is exported in full (the base); then 1 % of the contacts are changed
and 0.1 % archived (deleted), and at the same moment an incremental export (the base plus the
change feed, merged into a synthetic full export) and a real full export are taken. Target:
incremental requests ≤ 3 % of the full export's; every object's and relation's count and
content digest equal. Requests are counted by the connector (retries included) and by the
sandbox's own request counter; the incremental ones are broken down by method and path.
Writes bench-results/incremental[-sf][-no-archivals].json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vaultkeeper.connectors.base import Connector
from vaultkeeper.connectors.hubspot import HubSpotConnector
from vaultkeeper.connectors.salesforce import SalesforceConnector
from vaultkeeper.exportfmt import ExportFolder
from vaultkeeper.sandbox import FaultConfig, Sandbox
from vaultkeeper.services.export import run_export
from vaultkeeper.services.incremental import SyntheticConnector, feed_for

ROOT = Path(__file__).resolve().parent.parent
OBJ = {"hubspot": "contacts", "salesforce": "Contact"}
FIELD = {"hubspot": "firstname", "salesforce": "FirstName"}


def connect(sb: Sandbox, vendor: str, log: list[str] | None = None) -> Connector:
    """A fresh connector (its request counter starts at zero); ``log`` gets each request's
    method and path."""
    conn: Connector
    if vendor == "hubspot":
        conn = HubSpotConnector(sb.url, sb.token, ca_file=sb.ca_file, max_retries=12)
    else:
        conn = SalesforceConnector(sb.url, sb.token, ca_file=sb.ca_file, max_retries=12)
    if log is not None:
        http = conn.http
        chained = http.on_response

        def seen(response: Any) -> None:
            archived = "archived=true" in str(response.request.url.query)
            log.append(f"{response.request.method} {response.request.url.path}"
                       + (" (archived)" if archived else ""))
            if chained is not None:
                chained(response)

        http.on_response = seen
    return conn


def breakdown(log: list[str]) -> dict[str, int]:
    """Requests per method and path."""
    out: dict[str, int] = {}
    for line in log:
        out[line] = out.get(line, 0) + 1
    return dict(sorted(out.items()))


def export(sb: Sandbox, vendor: str, out: Path, base: Path | None,
           synthetic: bool = True, log: list[str] | None = None
           ) -> tuple[dict[str, Any], int, float]:
    """One export: (manifest, requests sent, seconds)."""
    connector = connect(sb, vendor, log)
    began = time.monotonic()
    try:
        if not synthetic:
            manifest = run_export(connector, out)
        else:
            feed = feed_for(connector)
            assert feed is not None
            objects: dict[str, Any] = {}
            wrapped = SyntheticConnector(connector, feed, ExportFolder(base) if base else None,
                                         datetime.now(UTC), summary_into=objects)
            manifest = run_export(wrapped, out, extra={"incremental": {
                "mode": "full" if base is None else "incremental", "objects": objects,
                "high_water": datetime.now(UTC).isoformat()}})
        stats = connector.request_stats()
        return manifest, int(stats.get("requests") or 0), time.monotonic() - began
    finally:
        connector.close()


def digests(manifest: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """(count, content digest) of every object and relation."""
    out = {f"objects/{n}": (e["count"], e["content_digest"])
           for n, e in manifest["objects"].items()}
    out |= {f"relations/{n}": (e["count"], e["content_digest"])
            for n, e in manifest["relations"].items()}
    return out


def main() -> int:
    """Run the benchmark; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--vendor", choices=("hubspot", "salesforce"), default="hubspot")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--no-archivals", action="store_true",
                        help="change 1 %% of the records and archive none")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vk-bench-incr-", dir=args.work))
    obj = OBJ[args.vendor]
    try:
        with Sandbox(records=args.records, seed=5, faults=FaultConfig.parse("none")) as sb:
            _, base_requests, base_s = export(sb, args.vendor, work / "base", None)
            time.sleep(1.1)   # the changes land after the base's high-water mark
            changed = max(1, args.records // 100)
            deleted = max(1, args.records // 1000)
            ids = sb.live_ids(obj, changed + deleted, start=args.records // 7)
            sb.overwrite(obj, {i: {FIELD[args.vendor]: "Benchmarked"} for i in ids[:changed]})
            if args.no_archivals:
                deleted = 0
            else:
                sb.archive(obj, ids[changed:])
            before = sb.stats()["requests"]
            log: list[str] = []
            incr, incr_requests, incr_s = export(sb, args.vendor, work / "incr", work / "base",
                                                 log=log)
            after = sb.stats()["requests"]
            full, full_requests, full_s = export(sb, args.vendor, work / "full", None,
                                                 synthetic=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mine, theirs = digests(incr), digests(full)
    differing = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
    ratio = incr_requests / full_requests
    result = {
        "vendor": args.vendor, "records": args.records, "changed": changed, "deleted": deleted,
        "base_requests": base_requests, "base_s": round(base_s, 1),
        "incremental_requests": incr_requests, "incremental_s": round(incr_s, 1),
        "sandbox_counted_incremental": after - before,
        "full_requests": full_requests, "full_s": round(full_s, 1),
        "ratio": round(ratio, 4), "target_ratio": 0.03, "ratio_ok": ratio <= 0.03,
        "reconciles": not differing, "differing": differing,
        "incremental_breakdown": breakdown(log),
        "plans": {n: {k: v for k, v in p.items() if k != "notes"}
                  for n, p in incr["incremental"]["objects"].items()},
    }
    name = "incremental" + ("" if args.vendor == "hubspot" else "-sf") + \
        ("-no-archivals" if args.no_archivals else "")
    out = ROOT / "bench-results" / f"{name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k not in ("plans",
                      "incremental_breakdown")}, indent=2))
    return 0 if result["reconciles"] and result["ratio_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

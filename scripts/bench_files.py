"""Benchmark: file export throughput against a bare streaming download loop, and peak memory.

One sandbox (HTTPS on 127.0.0.1) serves the files; two kinds of child process fetch all of
them, alternately, ``--rounds`` times each:

- ``bare``: lists the files (Files API search), asks each for its signed URL and streams it to
  disk in 1 MiB chunks with plain httpx; nothing else.
- ``vaultkeeper``: the export's files part (services/export_files.py) as a backup runs it:
  links from the exported notes, streaming, SHA-256, content-addressed placement, the index.
  The notes are exported first, untimed.

Each child reports its wall time for the files and its ``ru_maxrss`` before and after them
(the rise is what the files cost in memory). The JSON result has the best time of each,
their ratio (target ≤ 1.25; also the ratio of the medians: on a busy machine single runs
vary by 2-3×, so use several rounds) and the vaultkeeper child's RSS rise (target ≤ 50 MB with a
1 GB file: ``--large-mb 1024``).

    .venv/bin/python scripts/bench_files.py --records 2000 --out bench-files.json
    .venv/bin/python scripts/bench_files.py --records 200 --large-mb 1024 --rounds 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


def _rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child_bare(url: str, token: str, ca: str, out: Path) -> dict[str, Any]:
    """The baseline: list, sign, stream to disk."""
    import ssl

    import httpx

    client = httpx.Client(base_url=url, verify=ssl.create_default_context(cafile=ca),
                          headers={"Authorization": f"Bearer {token}"}, timeout=120)
    before, cpu = _rss_kb(), _cpu_s()
    began = time.perf_counter()
    after, total, count = None, 0, 0
    while True:
        body = client.get("/files/v3/files/search",
                          params={"limit": 100, **({"after": after} if after else {})}).json()
        for item in body["results"]:
            signed = client.get(f"/files/v3/files/{item['id']}/signed-url").json()["url"]
            with client.stream("GET", signed) as response, \
                    (out / item["id"]).open("wb") as handle:
                response.raise_for_status()
                for chunk in response.iter_bytes(CHUNK):
                    handle.write(chunk)
                    total += len(chunk)
            count += 1
        after = ((body.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            break
    return {"seconds": time.perf_counter() - began, "files": count, "bytes": total,
            "cpu_s": _cpu_s() - cpu, "rss_before_kb": before, "rss_peak_kb": _rss_kb()}


def child_vaultkeeper(url: str, token: str, ca: str, out: Path) -> dict[str, Any]:
    """The export's files part, as a backup runs it."""
    from vaultkeeper.connectors.hubspot import HubSpotConnector
    from vaultkeeper.filelimits import FileLimits
    from vaultkeeper.services.export import run_export
    from vaultkeeper.services.export_files import export_files

    connector = HubSpotConnector(url, token, ca_file=Path(ca))
    run_export(connector, out, objects=["notes"])   # the records the links come from
    before, cpu = _rss_kb(), _cpu_s()
    began = time.perf_counter()
    entry, problems = export_files(connector, out, FileLimits())
    seconds = time.perf_counter() - began
    assert entry is not None and not problems, problems
    return {"seconds": seconds, "files": entry["count"], "bytes": entry["bytes"],
            "cpu_s": _cpu_s() - cpu, "rss_before_kb": before, "rss_peak_kb": _rss_kb()}


def _run_child(kind: str, sandbox: Any, work: Path) -> dict[str, Any]:
    out = work / kind
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    done = subprocess.run([sys.executable, __file__, "--child", kind, sandbox.url,
                           str(sandbox.ca_file), str(out)], capture_output=True, text=True,
                          timeout=3600, input=sandbox.token)
    if done.returncode != 0:
        raise SystemExit(f"{kind} child failed:\n{done.stderr[-3000:]}")
    shutil.rmtree(out, ignore_errors=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    """Parse options, run the rounds, write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--large-mb", type=int, default=0,
                        help="make the first file this many MiB (e.g. 1024)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench-files.json"))
    parser.add_argument("--child", nargs=4, metavar=("KIND", "URL", "CA", "OUT"))
    args = parser.parse_args()
    if args.child:
        kind, url, ca, out = args.child
        token = sys.stdin.read().strip()
        run = child_bare if kind == "bare" else child_vaultkeeper
        print(json.dumps(run(url, token, ca, Path(out))))
        return
    from vaultkeeper.sandbox import Sandbox

    # A rate window far above what the run sends: the HubSpot connector slows down when the
    # advertised window runs low (and both children share one sandbox); this measures the
    # streaming, not the pacing.
    with Sandbox(records=args.records, seed=11, rate_limit=10**9) as sandbox, \
            tempfile.TemporaryDirectory(prefix="vk-bench-files-") as tmp:
        sandbox.files.large_size = args.large_mb * (1 << 20)
        runs: dict[str, list[dict[str, Any]]] = {"bare": [], "vaultkeeper": []}
        loads = [os.getloadavg()[0]]
        for _ in range(args.rounds):
            for kind in ("bare", "vaultkeeper"):
                runs[kind].append(_run_child(kind, sandbox, Path(tmp)))
                print(f"{kind:12} {runs[kind][-1]['seconds']:.2f} s "
                      f"(cpu {runs[kind][-1]['cpu_s']:.2f} s, load {os.getloadavg()[0]:.1f})",
                      file=sys.stderr)
                loads.append(os.getloadavg()[0])
    bare = min(r["seconds"] for r in runs["bare"])
    vk = min(r["seconds"] for r in runs["vaultkeeper"])
    medians = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    cpu = {k: statistics.median(r["cpu_s"] for r in v) for k, v in runs.items()}
    pairs = [v["seconds"] / b["seconds"] for b, v in zip(runs["bare"], runs["vaultkeeper"],
                                                          strict=True)]
    rise = max(r["rss_peak_kb"] - r["rss_before_kb"] for r in runs["vaultkeeper"]) / 1024
    first = runs["vaultkeeper"][0]
    result = {
        "benchmark": "files", "records": args.records, "files": first["files"],
        "bytes": first["bytes"], "large_file_bytes": args.large_mb * (1 << 20),
        "rounds": args.rounds, "bare_s": round(bare, 3), "vaultkeeper_s": round(vk, 3),
        "ratio": round(vk / bare, 3) if bare else None, "ratio_target": 1.25,
        "ratio_of_medians": round(medians["vaultkeeper"] / medians["bare"], 3)
        if medians["bare"] else None,
        "median_of_paired_ratios": round(statistics.median(pairs), 3),
        "cpu_median_s": {k: round(v, 2) for k, v in cpu.items()},
        "cpu_ratio": round(cpu["vaultkeeper"] / cpu["bare"], 3) if cpu["bare"] else None,
        "load_average": {"min": round(min(loads), 1), "max": round(max(loads), 1),
                         "median": round(statistics.median(loads), 1)},
        "bare_mb_s": round(first["bytes"] / bare / 1e6, 1) if bare else None,
        "vaultkeeper_mb_s": round(first["bytes"] / vk / 1e6, 1) if vk else None,
        "rss_rise_mb": round(rise, 1), "rss_rise_target_mb": 50,
        "bare_rss_rise_mb": round(max(r["rss_peak_kb"] - r["rss_before_kb"]
                                      for r in runs["bare"]) / 1024, 1),
        "runs": runs}
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()

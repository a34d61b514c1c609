"""Benchmark: vaultkeeper export vs a bare httpx paging loop, against the same sandbox.

The target compares with the plain loop (httpx + the stdlib json module); a second loop using
orjson, the JSON library vaultkeeper itself uses, is reported as the stricter comparison.

Usage: .venv/bin/python scripts/bench_export.py [--records 100000] [--small 10000] [--repeat 3]
Writes bench-results/export.json. Targets (issue 2): time ratio ≤ 1.25; peak RSS at --records
minus peak RSS at --small ≤ 50 MB. Both sides run as separate processes, alternately, against one
sandbox process; the median of --repeat runs is compared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
OBJECTS = "contacts,companies,deals"

SERVE = """
import json, signal, sys, threading
from vaultkeeper.sandbox import Sandbox
sb = Sandbox(records=int(sys.argv[1]), seed=1, rate_limit=int(sys.argv[2]))
sb.start()
print(json.dumps({"url": sb.url, "token": sb.token, "ca": str(sb.ca_file)}), flush=True)
signal.signal(signal.SIGTERM, lambda *a: (sb.stop(), sys.exit(0)))
threading.Event().wait()
"""


@contextmanager
def sandbox(records: int, rate_limit: int) -> Any:
    """A sandbox in its own process (its CPU and memory are not the client's)."""
    proc = subprocess.Popen([PY, "-c", SERVE, str(records), str(rate_limit)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def measure(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run a command; return (wall seconds, peak RSS in MB) of that process alone."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0,):
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {argv}")
    return elapsed, usage.ru_maxrss / 1024


def vaultkeeper_cmd(sb: dict[str, str], work: Path, out: Path) -> tuple[list[str], dict[str, str]]:
    """The vaultkeeper export command and environment for a sandbox."""
    config = work / "bench.toml"
    config.write_text(
        "[source]\nconnector = \"hubspot\"\n"
        f"base_url = \"{sb['url']}\"\ntoken = {{ env = \"BENCH_SANDBOX_TOKEN\" }}\n"
        f"ca_file = \"{sb['ca']}\"\n", encoding="utf-8")
    env = dict(os.environ, BENCH_SANDBOX_TOKEN=sb["token"])
    return ([PY, "-m", "vaultkeeper", "--config", str(config), "export", "--out", str(out),
             "--objects", OBJECTS, "--overwrite"], env)


def main() -> int:
    """Run the comparison and write the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--rate-limit", type=int, default=1_000_000,
        help="requests per 10 s the sandbox advertises; vaultkeeper honours it and the bare loop "
             "ignores it, so the default keeps it out of the way to measure client overhead "
             "(use 190, HubSpot's real limit, to see the pacing)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "export.json")
    args = parser.parse_args()
    results: dict[str, Any] = {"records": args.records, "small": args.small,
                               "repeat": args.repeat, "objects": OBJECTS,
                               "advertised_rate_limit": args.rate_limit}
    with tempfile.TemporaryDirectory(prefix="vk-bench-") as tmp:
        work = Path(tmp)
        with sandbox(args.small, args.rate_limit) as sb:
            cmd, env = vaultkeeper_cmd(sb, work, work / "small")
            results["vaultkeeper_small"] = dict(zip(("seconds", "rss_mb"), measure(cmd, env),
                                                    strict=True))
        with sandbox(args.records, args.rate_limit) as sb:
            cmd, env = vaultkeeper_cmd(sb, work, work / "vk")
            base = [PY, str(ROOT / "scripts" / "bench_baseline_export.py"), sb["url"],
                    sb["token"], sb["ca"], str(work / "bare")]
            runs: dict[str, list[tuple[float, float]]] = {
                "bare": [], "bare_orjson": [], "vaultkeeper": []}
            for i in range(args.repeat):
                runs["bare"].append(measure([*base, "json"]))
                runs["bare_orjson"].append(measure([*base, "orjson"]))
                runs["vaultkeeper"].append(measure(cmd, env))
                print(f"run {i + 1}: " + ", ".join(f"{k} {v[-1][0]:.1f}s"
                                                  for k, v in runs.items()), file=sys.stderr)
            manifest = json.loads((work / "vk" / "manifest.json").read_text())
            results["exported"] = {k: v["count"] for k, v in manifest["objects"].items()}
    for side, values in runs.items():
        results[side] = {"seconds": [round(s, 2) for s, _ in values],
                         "median_s": round(statistics.median(s for s, _ in values), 2),
                         "rss_mb": round(max(r for _, r in values), 1)}
    vk_s, bare_s = results["vaultkeeper"]["median_s"], results["bare"]["median_s"]
    results["time_ratio"] = round(vk_s / bare_s, 3)
    # Stricter, for information: the bare loop with the same fast JSON library we use.
    results["time_ratio_vs_orjson_loop"] = round(vk_s / results["bare_orjson"]["median_s"], 3)
    results["rss_growth_mb"] = round(results["vaultkeeper"]["rss_mb"]
                                     - results["vaultkeeper_small"]["rss_mb"], 1)
    results["targets"] = {"time_ratio_max": 1.25, "rss_growth_mb_max": 50}
    results["pass"] = results["time_ratio"] <= 1.25 and results["rss_growth_mb"] <= 50
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
    return 0 if results["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())

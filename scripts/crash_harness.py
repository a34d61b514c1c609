#!/usr/bin/env python3
"""Crash-consistency harness: kill vaultkeeper at random moments and check nothing broke.

For each command (``backup``, ``drill``, ``emergency``, ``escrow deposit`` and the scheduler
daemon ``run --once``, whose backup job is due at every start) it starts the real CLI N times
against four locations (two local folders, S3 via ``rclone serve s3``, REST via ``rclone serve
restic``), kills it with SIGKILL or SIGTERM (alternating) after a random delay
within the command's measured duration, and then checks:

1. the next run of the same command succeeds;
2. no lock is left: after vaultkeeper's next operation on every location (the next run
   itself for ``backup`` and ``run``, else ``vaultkeeper snapshots``), ``restic list locks`` is
   empty everywhere (locks left by the kill itself and
   removed by vaultkeeper's stale-lock check are counted as a figure, not a violation);
3. ``restic check`` is clean at every location (and the escrow repository);
4. no plaintext or secret outside private folders: TMPDIR and the state directory (except the
   verified mirror, 0700/0600 by design, and restic's encrypted cache) hold none of the
   sandbox's e-mail addresses and not the repository password; no private work folder of a
   dead process survives the next run;
5. nothing recorded as successful that was not: the newest backup run marked ok has its
   snapshot at every location it names; ``mirror.db`` is the newest verified drill's snapshot;
   a killed ``emergency`` never leaves a package that looks complete but fails ``emergency
   verify``; the newest escrow deposit recorded passes ``escrow verify --level 1``.

A SIGTERM that lands while the interpreter is still starting (before vaultkeeper's handler
exists; ~0.5 s on a loaded machine) ends it by the signal: when that run left no trace at all
(no output, no file changed anywhere it could write) it is counted as "killed before start",
shown apart, not as a violation. The stderr tail of every killed run is kept in the JSON.

Results (every kill, every check, the figures, the commit) go to a JSON file, rewritten after
every kill. The modules: crash_trials (set-up, one trial), crash_checks (the checks),
crash_report (figures, ``--merge``, Markdown). Run from a checkout with
the project's virtualenv: ``.venv/bin/python scripts/crash_harness.py --kills 5``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from crash_checks import COMMANDS
from crash_report import markdown, merge, result_of
from crash_trials import Harness


def main(argv: list[str] | None = None) -> int:
    """Run the harness; exit 0 when no check was violated."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=3, help="kills per command (default 3)")
    parser.add_argument("--commands", default=",".join(COMMANDS),
                        help="comma list of backup, drill, emergency, escrow, run")
    parser.add_argument("--records", type=int, default=30, help="sandbox records per object")
    parser.add_argument("--seed", type=int, default=12, help="random seed for kill moments")
    parser.add_argument("--workdir", type=Path, help="keep everything here (default: temp)")
    parser.add_argument("--out", type=Path, default=Path("crash-harness.json"),
                        help="JSON results file (rewritten after every kill)")
    parser.add_argument("--budget", type=float, default=0,
                        help="stop starting new kills after this many seconds (0: no limit)")
    parser.add_argument("--timeout", type=float, default=900, help="per-command timeout")
    parser.add_argument("--no-check-cache", dest="check_cache", action="store_false",
                        help="restic check with a fresh temporary cache (slower)")
    parser.add_argument("--merge", type=Path, nargs="+", metavar="JSON",
                        help="combine result files of side-by-side runs into --out and exit")
    parser.add_argument("--markdown", type=Path, help="also write a Markdown summary here")
    parser.add_argument("--durations", default="",
                        help="known unkilled durations, e.g. backup=113,drill=39: the kill "
                             "window without re-measuring it (prerequisites still run)")
    args = parser.parse_args(argv)
    if args.merge:
        merged = merge(args.merge)
        args.out.write_text(json.dumps(merged, indent=2) + "\n")
        if args.markdown:
            args.markdown.write_text(markdown(merged))
        print(json.dumps({k: v for k, v in merged.items() if k != "trials"}, indent=2))
        return 1 if merged["violations"] else 0
    commands = [c.strip() for c in args.commands.split(",") if c.strip()]
    unknown = [c for c in commands if c not in COMMANDS]
    if unknown:
        parser.error(f"unknown command(s) {unknown}; choose from {', '.join(COMMANDS)}")
    import tempfile

    root = args.workdir or Path(tempfile.mkdtemp(prefix="vk-crash-harness-"))
    root.mkdir(parents=True, exist_ok=True)
    durations = {k.strip(): float(v) for k, _, v in
                 (item.partition("=") for item in args.durations.split(",") if item.strip())}
    harness = Harness(root.resolve(), args.records, args.timeout, check_cache=args.check_cache,
                      durations=durations)
    rng = random.Random(args.seed)
    trials: list[dict[str, Any]] = []
    began = time.monotonic()

    def save(*, complete: bool) -> dict[str, Any]:
        result = result_of(args, harness, trials, commands, time.monotonic() - began,
                           complete=complete)
        result["workdir"] = str(root)
        tmp = args.out.with_name(args.out.name + ".tmp")
        tmp.write_text(json.dumps(result, indent=2) + "\n")
        tmp.replace(args.out)
        return result

    complete = False
    try:
        harness.start(commands)
        signals = (signal.SIGKILL, signal.SIGTERM)
        for n in range(args.kills):
            for command in commands:
                if args.budget and time.monotonic() - began > args.budget:
                    break
                trial = harness.trial(command, n, signals[n % 2], rng)
                if command == "escrow" and trial.next_exit == 0:
                    trial.violations += harness.escrow_verified()
                trials.append(asdict(trial))
                save(complete=False)
                print(f"{command:9} #{n} {trial.signal:7} after {trial.delay_s:5.1f}s "
                      f"exit {trial.killed_exit} → next {trial.next_exit} "
                      f"({trial.next_s:.0f}s) locks {trial.locks_after_kill}/{trial.locks_left}"
                      f" checks {trial.checks_s:.0f}s cycle {trial.cycle_s:.0f}s"
                      f" violations {len(trial.violations)}", flush=True)
                for violation in trial.violations:
                    print(f"    VIOLATION {violation}", flush=True)
            if args.budget and time.monotonic() - began > args.budget:
                break
        complete = len(trials) == args.kills * len(commands)
    finally:
        harness.stop()
        result = save(complete=complete)
    print(json.dumps({k: v for k, v in result.items() if k != "trials"}, indent=2))
    if args.markdown:
        args.markdown.write_text(markdown(result))
    if args.workdir is None:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if result["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())

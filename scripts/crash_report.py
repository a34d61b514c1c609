"""Crash harness, the reporting: per-command figures, the JSON document, merging side-by-side
runs, and the Markdown summary for docs/."""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crash_trials import Harness


def commit_of_tree() -> str:
    """The commit the harness (and the vaultkeeper it runs) is at; ``+dirty`` when
    vaultkeeper/ or scripts/ differ from it."""
    root = Path(__file__).resolve().parents[1]
    if (root / ".commit").is_file():    # a `git archive` copy (the runs use a frozen tree)
        return (root / ".commit").read_text().strip()
    try:
        head = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=root,
                              capture_output=True, text=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "vaultkeeper", "scripts"],
                               cwd=root, capture_output=True, text=True,
                               timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        head, dirty = "", ""
    return (head or "unknown") + ("+dirty" if dirty else "")


def summarise(trials: list[dict[str, Any]], commands: list[str]) -> dict[str, dict[str, Any]]:
    """Per-command figures from the trials (dicts, as in the JSON file)."""
    out = {}
    for c in commands:
        mine = [t for t in trials if t["command"] == c]
        cycles = [t.get("cycle_s", 0.0) for t in mine if t.get("cycle_s")]
        out[c] = {"kills": len(mine),
                  "sigkill": sum(t["signal"] == "SIGKILL" for t in mine),
                  "sigterm": sum(t["signal"] == "SIGTERM" for t in mine),
                  "finished_before_kill": sum(bool(t["finished_before_kill"]) for t in mine),
                  "killed_before_start": sum(bool(t.get("killed_before_start")) for t in mine),
                  "killed_while_running": sum(not t["finished_before_kill"] for t in mine),
                  "locks_left_by_kill": sum(t["locks_after_kill"] for t in mine),
                  "kills_that_left_locks": sum(t["locks_after_kill"] > 0 for t in mine),
                  "locks_left_after_next_run": sum(t["locks_left"] for t in mine),
                  "next_run_ok": sum(t["next_exit"] == 0 for t in mine),
                  "mean_cycle_s": round(sum(cycles) / len(cycles), 1) if cycles else None,
                  "violations": sum(len(t["violations"]) for t in mine)}
        if c == "run":
            statuses: dict[str, int] = {}
            for t in mine:
                key = str(t.get("job_status"))
                statuses[key] = statuses.get(key, 0) + 1
            out[c]["killed_job_status"] = statuses
    return out


def result_of(args: argparse.Namespace, harness: Harness | None, trials: list[dict[str, Any]],
              commands: list[str], elapsed: float, *, complete: bool) -> dict[str, Any]:
    """The JSON document: honest about how many kills actually ran."""
    per_command = summarise(trials, commands)
    return {
        "complete": complete,
        "kills_requested": args.kills,
        "kills_done_per_command": {c: v["kills"] for c, v in per_command.items()},
        "records": args.records, "seed": args.seed,
        "restic_check": "--with-cache" if args.check_cache else "fresh temporary cache",
        "locations": list(harness.repos) if harness and hasattr(harness, "repos") else [],
        "durations_s": {k: round(v, 1) for k, v in harness.durations.items()} if harness else {},
        "durations_measured": list(harness.measured) if harness else [],
        "commit": commit_of_tree(), "elapsed_s": round(elapsed, 1), "per_command": per_command,
        "violations": sum(len(t["violations"]) for t in trials),
        "trials": trials}


def merge(paths: list[Path]) -> dict[str, Any]:
    """Combine the results of harness runs that ran side by side or one after another: one
    command each, or several parts of one command (continued with another seed). A command's
    kills are the sum over its parts; the whole is complete when every command reached the
    kills requested."""
    parts = [json.loads(p.read_text()) for p in paths]
    trials = [t for part in parts for t in part["trials"]]
    commands = list(dict.fromkeys(c for part in parts for c in part["per_command"]))
    requested = max(p["kills_requested"] for p in parts)
    done: dict[str, int] = {}
    commits: dict[str, list[str]] = {}
    for part in parts:
        for command, kills in part["kills_done_per_command"].items():
            done[command] = done.get(command, 0) + kills
        for command in part["per_command"]:
            seen = commits.setdefault(command, [])
            if part.get("commit", "unknown") not in seen:
                seen.append(part.get("commit", "unknown"))
    return {
        "complete": all(n >= requested for n in done.values()),
        "kills_requested": requested,
        "kills_done_per_command": done,
        "records": parts[0]["records"], "seeds": [p["seed"] for p in parts],
        "restic_check": parts[0]["restic_check"], "locations": parts[0]["locations"],
        # each command's unkilled duration as its own run measured it (its kill window)
        "durations_s": {c: p["durations_s"].get(c) for p in parts for c in p["per_command"]},
        "excluded_trials": [p["excluded_trials"] for p in parts if p.get("excluded_trials")],
        "elapsed_s": max(p["elapsed_s"] for p in parts),   # the longest part (wall)
        "commits": {c: ", ".join(v) for c, v in commits.items()},
        "per_command": summarise(trials, commands),
        "violations": sum(p["violations"] for p in parts),
        "parts": [str(p) for p in paths], "trials": trials}


def markdown(result: dict[str, Any]) -> str:
    """A short Markdown summary of a result (for docs/)."""
    done = result["kills_done_per_command"]
    lines = [
        "# Crash-harness results", "",
        f"Kills requested per command: **{result['kills_requested']}**; "
        f"done: {', '.join(f'{c} {n}' for c, n in done.items())} "
        f"({'complete' if result['complete'] else 'INCOMPLETE: stopped by the time budget'}). "
        f"Violations: **{result['violations']}**.", "",
        f"Sandbox records per object: {result['records']}; locations: "
        f"{', '.join(result['locations'])} (plus the S3 escrow repository); `restic check` "
        f"{result['restic_check']}. Unkilled run of each command (s): "
        + ", ".join(f"{c} {s}" for c, s in result["durations_s"].items()) + ".", "",
        "| command | kills | SIGKILL | SIGTERM | finished before the kill | killed before "
        "start | kills that left locks | locks left by kills (removed by the next run) | locks "
        "after the next run | next run ok | mean cycle (s) | violations |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c, v in result["per_command"].items():
        lines.append(f"| {c} | {v['kills']} | {v['sigkill']} | {v['sigterm']} | "
                     f"{v['finished_before_kill']} | {v.get('killed_before_start', 0)} | "
                     f"{v['kills_that_left_locks']} | "
                     f"{v['locks_left_by_kill']} | {v['locks_left_after_next_run']} | "
                     f"{v['next_run_ok']} | {v['mean_cycle_s']} | {v['violations']} |")
    run = result["per_command"].get("run")
    if run and run.get("killed_job_status"):
        lines += ["", "Killed `vaultkeeper run` job runs after the next start: "
                  + ", ".join(f"{k} {n}" for k, n in sorted(run["killed_job_status"].items()))
                  + " (never `running`, never a false `ok`)."]
    lines += ["", "Killed before start: a SIGTERM that ended the interpreter while it was still "
              "starting (before vaultkeeper's handler existed) and left no trace — no output, no "
              "file changed in the state folder, TMPDIR, the output folder or any location "
              "(compared before and after). Counted apart; the next run and every check still "
              "ran."]
    commits = result.get("commits") or ({c: result["commit"] for c in result["per_command"]}
                                          if result.get("commit") else {})
    if commits:
        lines += ["", "Commits: " + ", ".join(f"{c} {h}" for c, h in commits.items()) + "."]
    bad = [t for t in result["trials"] if t["violations"]]
    if bad:
        lines += ["", "## Violations", ""]
        for t in bad:
            lines += [f"- {t['command']} #{t['n']}: {v}" for v in t["violations"]]
            tail = (t.get("killed_stderr") or "").strip().splitlines()[-6:]
            if tail:
                lines += ["", "  ```", *[f"  {x}" for x in tail], "  ```", ""]
    for excluded in result.get("excluded_trials") or []:
        lines += ["", f"Excluded: {excluded['count']} trial(s) — {excluded['reason']}."]
    return "\n".join(lines) + "\n"

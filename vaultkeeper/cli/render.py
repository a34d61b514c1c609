"""Rendering for people (rich tables and progress bars on stderr/stdout) and machines (JSON)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Annotated, Any, Self

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from vaultkeeper.cli import state
from vaultkeeper.exportfmt_files import FilesEntry, files_lines, files_summary
from vaultkeeper.models import ObjectResult
from vaultkeeper.services.export import ExportObserver
from vaultkeeper.services.processes import human

err_console = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
"""``--json``: exactly one JSON object on stdout, also on failure."""
HtmlReportOption = Annotated[Path | None, typer.Option(
    "--html", help="Also write a self-contained HTML report to this file.", dir_okay=False)]
"""``--html FILE``: the report as one self-contained page."""


def print_json(data: Any) -> None:
    """Machine-readable output on stdout (shapes only ever gain fields)."""
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()
    state.options.json_printed = True


def yes_no(value: object) -> str:
    """``yes``/``no`` for a flag, ``-`` when unknown (never True/False/None in a table)."""
    return "-" if value is None else "yes" if value else "no"


def size(n: int | float | None) -> str:
    """Bytes for people: ``0 B``, ``812 B``, ``12.3 MB`` (decimal units, as disks are sold)."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def stamp(iso: str | None) -> str:
    """An ISO timestamp as ``2026-12-01 20:18`` (UTC, to the minute), ``never`` when None."""
    if not iso:
        return "never"
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return iso[:16]
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%d %H:%M")


def ago(seconds: float | None) -> str:
    """An age for people: ``12 s``, ``40 min``, ``3.5 h``, ``2 d``."""
    return "-" if seconds is None else human(float(seconds))


class BarsView:
    """Progress bars on stderr, shown while the ``with`` block runs when ``enabled``."""

    def __init__(self, progress: Progress, *, enabled: bool) -> None:
        self.enabled = enabled
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> Self:
        if self.enabled:
            self._progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.enabled:
            self._progress.stop()


class ExportProgress(BarsView, ExportObserver):
    """One progress bar per object on a terminal; silent otherwise."""

    def __init__(self, *, enabled: bool) -> None:
        super().__init__(Progress(
            TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"), TimeElapsedColumn(),
            console=err_console, transient=False, disable=not enabled,
        ), enabled=enabled)

    def discovered(self, objects: Any) -> None:
        """Queue a bar for each object."""
        for name in objects:
            self._tasks[name] = self._progress.add_task(name, total=None, note="waiting",
                                                        start=False)

    def object_started(self, name: str, expected: int | None) -> None:
        """Start the object's bar with the source's own count as its total."""
        task = self._tasks[name]
        self._progress.update(task, total=expected, note="")
        self._progress.start_task(task)

    def advance(self, name: str, records: int) -> None:
        """Move the bar."""
        self._progress.advance(self._tasks[name], records)

    def file_done(self, name: str, size: int, how: str) -> None:
        """One more file (a bar of its own, counting files; the note says the last one)."""
        if FILES_BAR not in self._tasks:
            self._tasks[FILES_BAR] = self._progress.add_task(FILES_BAR, total=None, note="")
        self._progress.update(self._tasks[FILES_BAR], advance=1, note=f"{how} {name[:30]}")

    def object_finished(self, result: ObjectResult) -> None:
        """Finish the bar at the exported count and show quarantine if any."""
        note = f"[red]{result.quarantined} quarantined" if result.quarantined else "done"
        self._progress.update(self._tasks[result.name], total=result.count,
                              completed=result.count, note=note)


FILES_BAR = "(files)"


def export_summary(manifest: dict[str, Any], out: Path) -> dict[str, Any]:
    """The ``--json`` shape of an export run."""
    objects = {
        name: {k: entry[k] for k in ("count", "live", "archived", "quarantined", "difference",
                                     "content_digest")}
        | {"source_live": (entry["source_count"] or {}).get("live"),
           "source_total": (entry["source_count"] or {}).get("total"),
           "count_verified": entry.get("count_verified", True)}
        for name, entry in manifest["objects"].items()
    }
    return {
        "out": str(out),
        "status": manifest["status"],
        "problems": manifest["problems"],
        "connector": manifest["connector"]["name"],
        "duration_s": manifest["duration_s"],
        "objects": objects,
        "relations": {k: v["count"] for k, v in manifest["relations"].items()},
        "unverified_counts": manifest.get("unverified_counts", []),
        "requests": manifest.get("requests", {}),
        "files": files_summary(FilesEntry.parse(manifest.get("files"))),
    }


def unverified_line(names: list[str]) -> str:
    """The one line saying which objects' counts no source confirmed."""
    shown = ", ".join(names[:12]) + (f" … ({len(names)} in all)" if len(names) > 12 else "")
    return (f"Counts unverified (the source reports no totals, so completeness is not "
            f"checked): {shown}")


def object_table(columns: tuple[str, ...], **options: Any) -> Table:
    """A table with one row per object (or relation): its name on one line on the left, the
    counts on the right. No outer frame: a relation's name and six count columns (the drill
    table) then still fit 80 columns."""
    title = options.get("title")
    if isinstance(title, str):    # a narrow table is widened rather than its title folded
        options.setdefault("min_width", len(title))
    table = Table(show_edge=False, **options)
    table.add_column(columns[0], no_wrap=True)
    for column in columns[1:]:
        table.add_column(column, justify="right")
    return table


def export_table(summary: dict[str, Any]) -> None:
    """A table of objects for people, then problems on stderr."""
    console = Console()
    # "live" is compared with what the source reports for live records; archived/deleted
    # records are exported too but sources rarely count them (HubSpot search cannot).
    table = object_table(("object", "records", "live", "archived", "quarantined",
                          "source: live", "source: all", "live − source"),
                         title=f"Export to {summary['out']} — {summary['status']}")

    def cell(value: int | None, verified: bool = True) -> str:
        return ("-" if verified else "unverified") if value is None else str(value)

    for name, o in summary["objects"].items():
        ok = o.get("count_verified", True)
        table.add_row(name, str(o["count"]), str(o["live"]), str(o["archived"]),
                      str(o["quarantined"]), cell(o["source_live"], ok),
                      cell(o["source_total"], ok),
                      "-" if o["difference"] is None else f"{o['difference']:+d}")
    console.print(table)
    if summary.get("unverified_counts"):
        console.print(unverified_line(summary["unverified_counts"]), highlight=False)
    relations = summary["relations"]
    if relations:
        console.print("relations: " + ", ".join(f"{k} {v}" for k, v in relations.items()))
    requests = summary.get("requests") or {}
    if requests:
        console.print(f"{requests.get('requests', 0)} requests, {requests.get('retries', 0)} "
                      f"retried, {summary['duration_s']} s")
    for line in files_lines(summary.get("files")):
        console.print(line, highlight=False)
    for problem in summary["problems"]:
        err_console.print(f"[yellow]Problem:[/] {problem}", highlight=False)

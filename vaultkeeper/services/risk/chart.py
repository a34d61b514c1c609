"""The risk chart for a board report: score over time on the level bands, and the severities of
the signals that weigh most. Matplotlib's object API with the Agg canvas (no display, no pyplot
global state), so it works on a server and in threads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

from vaultkeeper.errors import UsageError
from vaultkeeper.policies import RiskPolicy

FORMATS = (".png", ".svg")
KEY_SIGNALS = 4
_BAND_COLOURS = ("#d8f0d2", "#fde9c4", "#f8cfcb", "#f0c0e8", "#d9d9d9")


def write_chart(path: Path, policy: RiskPolicy, points: Sequence[tuple[date, float]],
                signals: Mapping[str, Sequence[tuple[date, float]]], *, title: str,
                events: Sequence[tuple[date, str]] = ()) -> Path:
    """Draw the score (0-100) on coloured level bands, hard triggers as dashed lines, and up to
    four signals' weighted severities (0-1) below it; PNG or SVG by the file's suffix."""
    if path.suffix.lower() not in FORMATS:
        raise UsageError(f"--chart {path}: unknown image type {path.suffix or '(none)'}",
                         "name the file .png or .svg")
    # Lazy: matplotlib (~1 s of imports) loads only when a chart is drawn.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 6.2), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    days = [d for d, _ in points]
    bounds = [lvl.min_score for lvl in policy.levels] + [100.0]
    for i, lvl in enumerate(policy.levels):
        top.axhspan(bounds[i], bounds[i + 1], color=_BAND_COLOURS[min(i, 4)], zorder=0)
        top.text(0.005, (bounds[i] + bounds[i + 1]) / 200, lvl.name, transform=top.transAxes,
                 va="center", ha="left", fontsize=9, color="#555555")
    top.step(days, [s for _, s in points], where="post", color="#1f3b73", linewidth=2.2,
             label="risk score", zorder=3)
    if points:
        last_day, last = points[-1]
        top.annotate(f"{last:.0f}", (last_day, last), textcoords="offset points",
                     xytext=(6, 4), fontsize=10, color="#1f3b73", fontweight="bold")
    for day, label in events:   # hard triggers: the level jumps whatever the score
        for ax in (top, bottom):
            ax.axvline(day, color="#b00020", linestyle="--", linewidth=1.1, zorder=2)
        top.annotate(label, (day, 97), textcoords="offset points", xytext=(-4, 0),
                     ha="right", va="top", fontsize=9, color="#b00020")
    top.set_ylim(0, 100)
    top.set_ylabel("score (0-100)")
    top.set_title(title, loc="left", fontsize=12)
    top.grid(axis="y", color="#ffffff", linewidth=0.8)
    # Signals with the very same curve (two figures of one annual report) share one line.
    groups: dict[tuple[tuple[date, float], ...], list[str]] = {}
    for name, series in signals.items():
        groups.setdefault(tuple(series), []).append(name)
    for series, names in list(groups.items())[:KEY_SIGNALS]:
        bottom.step([d for d, _ in series], [v for _, v in series], where="post",
                    label=" = ".join(names), linewidth=1.6)
    bottom.set_ylim(-0.03, 1.03)
    bottom.set_ylabel("severity × fading")
    bottom.grid(alpha=0.3)
    if signals:
        bottom.legend(loc="upper left", fontsize=8, ncols=2, frameon=False)
    locator = AutoDateLocator()
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format=path.suffix.lower().lstrip("."),
                metadata={"Software": "vaultkeeper"} if path.suffix.lower() == ".png" else
                {"Date": None})
    return path

"""The drift check as pictures: per test, what it compared (reference vs current), and the status over time.

Drawn as inline SVG from the report's own summaries (``sentiment.monitoring.distributions``), like the Evaluate
tab's reliability diagram: a Gradio plot per test would be seven Vega charts that cannot mark the KS gap or carry
the statistic, threshold and level in their title. Every figure is a ``div.drift-plot`` whose ``data-test``,
``data-feature`` and ``data-level`` say what it shows (for a reader's tools and for tests).
"""

from __future__ import annotations

import html
import itertools
import math
import time
from collections.abc import Sequence
from typing import Any

LEVEL_COLORS = {"ok": "#16a34a", "warning": "#d97706", "drift": "#dc2626", "insufficient_data": "#9ca3af"}
# the colours the confidence chart above gives the two samples (Vega's defaults), so both read the same way
SIDES = (("reference", "#f58518"), ("current", "#4c78a8"))
STATISTIC = {"ks": "D", "psi": "PSI", "chi2": "χ²", "domain_auc": "AUC"}
EFFECT = {"ks": "D", "psi": "PSI", "chi2": "Cramér's V", "domain_auc": "AUC"}
X_TITLE = {
    "cdf": "value (up: the share of each sample at or below it)",
    "bins": "the reference's quantile bins (up: share of each sample)",
    "categories": "(up: share of each sample)",
    "scores": "domain classifier's out-of-fold score (log-odds of 'current')",
}
_W, _H, _PAD = 300, 150, 32  # one plot's drawing area and margin, CSS pixels
MAX_LABELS = 6  # bar labels one plot can hold side by side
HISTORY_LEVELS = ("insufficient_data", "ok", "warning", "drift")  # bottom to top


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2e}" if 0 < abs(value) < 1e-3 else f"{value:.3g}"


def caption(row: dict[str, Any]) -> str:
    """The test, its statistic and effect size against their thresholds, the (Holm-adjusted) p-value, the level."""
    test = row["test"]
    parts = [f"{STATISTIC.get(test, 'statistic')} = {_num(row['statistic'])}"]
    if row.get("effect_size") is not None and EFFECT.get(test) != STATISTIC.get(test):
        parts.append(f"{EFFECT.get(test, 'effect')} = {_num(row['effect_size'])}")
    if row.get("effect_threshold") is not None:
        parts[-1] += f" (effect threshold {_num(row['effect_threshold'])})"
    if row.get("adjusted_p_value") is not None:
        parts.append(f"p_adj = {_num(row['adjusted_p_value'])} (drift < {_num(row['threshold'])})")
    else:
        parts.append(f"drift > {_num(row['threshold'])}")
    return " · ".join(parts)


def _top(summary: dict[str, Any]) -> float:
    """The y-axis top: 100% for a CDF, else the largest share rounded up to the next 10%."""
    if summary["kind"] == "cdf":
        return 1.0
    largest = max(0.0, *summary["reference"], *summary["current"])
    return min(1.0, max(0.1, math.ceil(largest * 10 - 1e-9) / 10))


def _frame(x_title: str, top: float) -> list[str]:
    bottom, right = _PAD / 2 + _H, _PAD + _W
    return [
        f'<line x1="{_PAD}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="currentColor"/>',
        f'<line x1="{_PAD}" y1="{_PAD / 2}" x2="{_PAD}" y2="{bottom}" stroke="currentColor"/>',
        *(
            f'<text x="{_PAD - 4}" y="{_PAD / 2 + (1 - v) * _H + 3}" font-size="9" text-anchor="end">'
            f"{v * top:.0%}</text>"
            for v in (0.0, 0.5, 1.0)
        ),
        f'<text x="{_PAD + _W / 2}" y="{bottom + 26}" font-size="10" text-anchor="middle">'
        f"{html.escape(x_title)}</text>",
    ]


def _lines(xs: Sequence[float], sides: dict[str, list[float]], top: float) -> list[str]:
    """One polyline per side through ``(x, share)`` points, y scaled to ``top``."""
    low, high = min(xs), max(xs)
    span = (high - low) or 1.0

    def point(x: float, y: float) -> str:
        return f"{_PAD + (x - low) / span * _W:.1f},{_PAD / 2 + (1 - y / top) * _H:.1f}"

    parts = []
    for name, color in SIDES:
        points = " ".join(point(x, y) for x, y in zip(xs, sides[name], strict=True))
        parts.append(f'<polyline class="side-{name}" points="{points}" fill="none" stroke="{color}" stroke-width="2"/>')
    for x in (low, high):
        parts.append(
            f'<text x="{point(x, 0).split(",")[0]}" y="{_PAD / 2 + _H + 12}" font-size="9" '
            f'text-anchor="middle">{_num(x)}</text>'
        )
    return parts


def _bars(labels: Sequence[str], sides: dict[str, list[float]], top: float) -> list[str]:
    """Side-by-side bars per label: reference then current."""
    slot = _W / max(len(labels), 1)
    width = slot * 0.4
    parts = []
    for i, label in enumerate(labels):
        for k, (name, color) in enumerate(SIDES):
            share = sides[name][i]
            height = share / top * _H
            x = _PAD + i * slot + slot * 0.1 + k * width
            parts.append(
                f'<rect class="side-{name}" x="{x:.1f}" y="{_PAD / 2 + _H - height:.1f}" width="{width:.1f}" '
                f'height="{height:.1f}" fill="{color}"><title>{html.escape(label)}, {name}: {share:.1%}</title></rect>'
            )
        if i % math.ceil(len(labels) / MAX_LABELS) == 0:  # fewer labels than bars where they would overlap
            parts.append(
                f'<text x="{_PAD + (i + 0.5) * slot:.1f}" y="{_PAD / 2 + _H + 12}" font-size="9" '
                f'text-anchor="middle">{html.escape(label)}</text>'
            )
    return parts


def _drawing(summary: dict[str, Any], top: float) -> list[str]:
    sides = {name: list(summary[name]) for name, _ in SIDES}
    kind = summary["kind"]
    if kind == "cdf":
        edges = summary["edges"]
        parts = _lines(edges, {name: _cumulative(shares) for name, shares in sides.items()}, 1.0)  # ECDF at edges
        gap = summary["gap"]
        x = _PAD + (gap["at"] - edges[0]) / ((edges[-1] - edges[0]) or 1.0) * _W
        y1, y2 = (_PAD / 2 + (1 - gap[n]) * _H for n in ("reference", "current"))
        parts.append(
            f'<line class="ks-gap" x1="{x:.1f}" x2="{x:.1f}" y1="{y1:.1f}" y2="{y2:.1f}" stroke="#dc2626" '
            f'stroke-width="3"><title>largest gap D at {_num(gap["at"])}</title></line>'
        )
        return parts
    if kind == "scores":
        edges = summary["edges"]
        centres = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
        return _lines(centres, sides, top)
    labels = summary["categories"] if kind == "categories" else [f"≤{_num(e)}" for e in summary["edges"][1:]]
    return _bars(labels, sides, top)


def _cumulative(shares: Sequence[float]) -> list[float]:
    total, out = 0.0, []
    for share in shares:
        total += share
        out.append(min(total, 1.0))
    return out


def figure_of(row: dict[str, Any]) -> str:
    """One test's figure: the two distributions it compared, captioned with its reading and level."""
    summary, level = row.get("distribution"), row["level"]
    title = f"{row['feature']} · {row['test']}"
    badge = f'<b style="color:{LEVEL_COLORS.get(level, "inherit")}">{html.escape(level)}</b>'
    body = ""
    if summary:
        top = _top(summary)
        parts = [*_frame(X_TITLE.get(summary["kind"], ""), top), *_drawing(summary, top)]
        body = (
            f'<svg role="img" aria-label="{html.escape(title)}: reference vs current" width="{_W + 1.5 * _PAD}" '
            f'height="{_H + 2 * _PAD}">{"".join(parts)}</svg>'
        )
    return (
        f'<div class="drift-plot" data-feature="{html.escape(row["feature"])}" data-test="{html.escape(row["test"])}" '
        f'data-level="{html.escape(level)}" style="display:inline-block;vertical-align:top;margin:4px 12px 12px 0">'
        f"<div><b>{html.escape(title)}</b>: {badge}</div><div style='font-size:12px'>{html.escape(caption(row))}</div>"
        f"{body}</div>"
    )


def figures_of(results: Sequence[dict[str, Any]]) -> str:
    """Every test of the last check, with a legend; a line saying why when there is none."""
    if not results:
        return "<p>No drift pictures yet: the first drift check with enough predictions draws them.</p>"
    legend = " ".join(f'<span style="color:{color}">&#9632; {name}</span>' for name, color in SIDES)
    head = (
        f"<p><b>What each test compared</b> in the last check ({legend}; numeric features as CDFs, the red bar is "
        "the KS statistic D, their largest gap)</p>"
    )
    return f'<div class="drift-plots">{head}{"".join(figure_of(row) for row in results)}</div>'


def history_plot(records: Sequence[dict[str, Any]]) -> str:
    """The stored checks over time: the reported status as a step line, each window's own level as a dot (they
    differ while the persistence rule waits for a run of checks), times in UTC."""
    if not records:
        return "<p>No drift checks stored yet: each check, scheduled or run by hand, adds a point here.</p>"
    width, height, pad = 900, 120, 90
    times = [float(r["checked_at"]) for r in records]
    first, last = min(times), max(times)
    span = (last - first) or 1.0

    def x(t: float) -> float:
        return pad + ((t - first) / span if last > first else 0.5) * width

    def y(level: str) -> float:
        return 10 + (len(HISTORY_LEVELS) - 1 - HISTORY_LEVELS.index(level)) * height / (len(HISTORY_LEVELS) - 1)

    parts = [
        f'<text x="{pad - 8}" y="{y(level) + 3:.1f}" font-size="10" text-anchor="end" fill="{LEVEL_COLORS[level]}">'
        f"{level.replace('_', ' ')}</text>"
        for level in HISTORY_LEVELS
    ]
    steps = []
    for i, record in enumerate(records):
        if i:
            steps.append(f"{x(times[i]):.1f},{y(records[i - 1]['status']):.1f}")
        steps.append(f"{x(times[i]):.1f},{y(record['status']):.1f}")
    parts.append(
        f'<polyline class="history-status" points="{" ".join(steps)}" fill="none" stroke="#374151" stroke-width="2"/>'
    )
    for t, record in zip(times, records, strict=True):
        raw = record.get("raw_status") or record["status"]
        tip = (
            f"{_utc(t)}: reported {record['status']}, this window {raw} ({record['consecutive']} in a row), "
            f"{record['window_size']} predictions, {record['reference_source']} reference"
        )
        parts.append(
            f'<circle class="history-point" data-status="{html.escape(record["status"])}" '
            f'data-raw-status="{html.escape(raw)}" cx="{x(t):.1f}" cy="{y(raw):.1f}" r="4" '
            f'fill="{LEVEL_COLORS.get(raw, "#000")}"><title>{html.escape(tip)}</title></circle>'
        )
    for t, anchor in ((first, "start"), (last, "end")) if last > first else ((first, "middle"),):
        parts.append(f'<text x="{x(t):.1f}" y="{height + 30}" font-size="10" text-anchor="{anchor}">{_utc(t)}</text>')
    title = (
        f"<p><b>Drift status over the last {len(records)} check{'s' if len(records) != 1 else ''}</b> (line: the "
        "reported status; dots: each window's own level; times UTC)</p>"
    )
    svg = (
        f'<svg role="img" aria-label="Drift status history" width="{width + pad + 20}" height="{height + 40}">'
        f"{''.join(parts)}</svg>"
    )
    return f'<div class="drift-history">{title}{svg}</div>'


def _utc(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))

"""The Evaluate tab's figures as HTML: a confusion-matrix heatmap and a reliability diagram per model."""

from __future__ import annotations

import html

from sentiment.evaluation.report import EvaluationResult
from sentiment.labels import LABELS

_SIZE = 320  # the diagram's plotting square, in CSS pixels: two models' diagrams sit side by side at 1280 px
_PAD = 48


def confusion_html(result: EvaluationResult, title: str) -> str:
    """A confusion matrix as an HTML heatmap: rows are true classes, columns predictions, shade is the row share."""
    matrix = result.metrics.confusion
    head = "".join(f"<th>{label}</th>" for label in LABELS)
    rows = []
    for i, label in enumerate(LABELS):
        total = max(sum(matrix[i]), 1)
        cells = []
        for count in matrix[i]:
            share = count / total
            color = f"rgba(37, 99, 235, {0.08 + 0.85 * share:.2f})"
            text = "#fff" if share > 0.5 else "inherit"
            cells.append(f'<td style="background:{color};color:{text};text-align:center;padding:6px">{count}</td>')
        rows.append(f"<tr><th style='text-align:right;padding:6px'>{label}</th>{''.join(cells)}</tr>")
    return (
        f"<div><b>{html.escape(title)}</b> (rows: true, columns: predicted)"
        f"<table class='confusion'><tr><th></th>{head}</tr>{''.join(rows)}</table></div>"
    )


def reliability_svg(result: EvaluationResult) -> str:
    """A reliability diagram (Guo et al. 2017, fig. 1) as inline SVG: per confidence bin a bar up to its accuracy,
    a tick at its mean confidence, and the diagonal a calibrated model follows; the title gives the ECE. Empty
    when the result kept no probabilities."""
    calibration = result.calibration
    if calibration is None:
        return ""
    side, pad = _SIZE, _PAD

    def x(v: float) -> float:
        return pad + v * side

    def y(v: float) -> float:
        return pad / 2 + (1 - v) * side

    parts = [
        f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(1)}" stroke="#9ca3af" stroke-dasharray="4 3"/>',
        f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(0)}" stroke="currentColor"/>',
        f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(0)}" y2="{y(1)}" stroke="currentColor"/>',
    ]
    for b in calibration.bins:
        if not b.count:
            continue
        width = (b.upper - b.lower) * side
        parts.append(
            f'<rect class="reliability-bin" x="{x(b.lower):.1f}" y="{y(b.accuracy):.1f}" width="{width - 1:.1f}" '
            f'height="{y(0) - y(b.accuracy):.1f}" fill="rgba(37, 99, 235, 0.75)">'
            f"<title>confidence {b.lower:.2f}-{b.upper:.2f}: {b.count} rows, accuracy {b.accuracy:.2f}, "
            f"mean confidence {b.confidence:.2f}</title></rect>"
        )
        parts.append(
            f'<line x1="{x(b.lower):.1f}" x2="{x(b.upper) - 1:.1f}" y1="{y(b.confidence):.1f}" '
            f'y2="{y(b.confidence):.1f}" stroke="#dc2626" stroke-width="2"/>'
        )
    for v in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<text x="{x(v)}" y="{y(0) + 16}" font-size="12" text-anchor="middle">{v:g}</text>')
        parts.append(f'<text x="{x(0) - 6}" y="{y(v) + 4}" font-size="12" text-anchor="end">{v:g}</text>')
    parts.append(f'<text x="{x(0.5)}" y="{y(0) + 34}" font-size="13" text-anchor="middle">confidence</text>')
    parts.append(
        f'<text x="12" y="{y(0.5)}" font-size="13" text-anchor="middle" transform="rotate(-90 12 {y(0.5)})">'
        "accuracy</text>"
    )
    title = f"{result.model}: ECE {calibration.ece:.3f} ({len(calibration.bins)} bins)"
    return (
        f'<div class="reliability"><b>{html.escape(title)}</b> (bars: accuracy per confidence bin; red: mean '
        f"confidence; dashed: perfectly calibrated)<br>"
        f'<svg role="img" aria-label="Reliability diagram of {html.escape(result.model)}" '
        f'width="{side + 1.5 * pad}" height="{side + 1.2 * pad}">{"".join(parts)}</svg></div>'
    )


def model_figures(results: list[EvaluationResult]) -> str:
    """Each model's confusion matrix above its reliability diagram, the models side by side (wrapping on a narrow
    page), so two diagrams compare at a glance."""
    cells = "".join(
        f'<div class="model-figures" style="flex:1 1 420px">{confusion_html(r, r.model)}{reliability_svg(r)}</div>'
        for r in results
    )
    return f'<div style="display:flex;flex-wrap:wrap;gap:32px">{cells}</div>'

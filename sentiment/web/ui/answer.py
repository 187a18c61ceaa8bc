"""The Monitoring tab's first lines: the answer to "is my model still right?" (``service.answer``) in Markdown."""

from __future__ import annotations

from sentiment.service.answer import Answer


def answer_markdown(answer: Answer) -> str:
    """The headline, then one line per reading (realised, estimated, drift), each saying what it waits for when
    it has nothing yet. Ends with a blank line, so the details can follow."""
    calibrated = "calibrated probabilities" if answer.calibrated else "uncalibrated probabilities"
    lines = [f"### {answer.headline}", f"- Model: **{answer.model}** ({calibrated})"]
    if answer.realised is not None:
        r = answer.realised
        lines.append(
            f"- Realised accuracy: **{r.accuracy:.2f}** ({r.low:.2f}-{r.high:.2f}, 95% CI) from {r.labels:,} labels"
        )
    else:
        lines.append(
            f"- Realised accuracy: waiting for labels, {answer.labels:,} of {answer.labels_needed:,} needed "
            '(feedback: "Was this right?", `/feedback`, or `python -m sentiment feedback FILE`)'
        )
    if answer.estimate is not None:
        e = answer.estimate.estimate
        low, high = e.accuracy_band
        lines.append(
            f"- Estimated accuracy now: **{e.accuracy:.2f}** ({low:.2f}-{high:.2f}, {e.n:,} predictions, {e.method}) "
            f"vs {answer.estimate.reference_accuracy:.2f} at the reference"
        )
    else:
        lines.append("- Estimated accuracy now: after the first drift check with a full window")
    drift = answer.drift
    if drift is None:
        lines.append("- Drift: no check yet")
    elif drift.status == "insufficient_data":
        lines.append(f"- Drift: not enough data, {drift.window_size:,} predictions of {drift.min_window:,} needed")
    else:
        line = f"- Drift: **{drift.status}** on the last {drift.window_size:,} predictions"
        if (row := answer.moved_most) is not None:
            reading = (
                f"{row.test} {row.statistic:.3g} (threshold {row.threshold:g})"
                if row.adjusted_p_value is None
                else f"{row.test}, adjusted p {row.adjusted_p_value:.2g} (threshold {row.threshold:g})"
            )
            if row.effect_size is not None and row.effect_threshold is not None:
                reading += f", effect {row.effect_size:.2f} (threshold {row.effect_threshold:g})"
            line += f"; moved most: **{row.feature}** ({reading}, {row.level})"
        if drift.raw_status and drift.raw_status != drift.status:
            line += (
                f"; this window alone: {drift.raw_status} (so far {drift.windows} window(s) sharing no prediction, "
                f"{drift.consecutive} check(s) in a row)"
            )
        lines.append(line + f"; reference: {drift.reference_source}")
    return "\n".join(lines) + "\n\n"

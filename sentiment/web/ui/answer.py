"""The Monitoring tab's first lines: the answer to "is my model still right?" (``service.answer``) in Markdown."""

from __future__ import annotations

from sentiment.monitoring.drift import DriftReport
from sentiment.service.answer import Answer


def answer_markdown(answer: Answer) -> str:
    """The headline, then one line per reading in plain words (realised, estimated, drift, what moved), each
    saying what it waits for when it has nothing yet; the statistics are ``answer_details``. Ends with a blank
    line."""
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
    if answer.truth is not None:
        lines.append(_truth_line(answer))
    if answer.review is not None:
        sample = answer.review
        lines.append(
            f"- Review sample: **{sample.waiting:,} wait for review**, {sample.labelled:,} labelled of "
            f"{sample.sampled:,} drawn at "
            "random (Label tab, `/review_sample`)"
        )
    if answer.cannot_tell is not None:
        lines.append(f"- Estimated accuracy now: **can't tell**: {answer.cannot_tell} (Label tab)")
    elif answer.estimate is not None:
        e = answer.estimate.estimate
        low, high = e.accuracy_band
        lines.append(
            f"- Estimated accuracy now: **{e.accuracy:.2f}** ({low:.2f}-{high:.2f}, {e.n:,} predictions, no labels "
            f"needed) vs {answer.estimate.reference_accuracy:.2f} at the reference"
        )
    else:
        lines.append("- Estimated accuracy now: after the first drift check with a full window")
    if answer.shares is not None:
        s = answer.shares
        lines.append(
            f"- Class shares: **{s.line}** ({s.basis})" + (f". {s.note[0].upper()}{s.note[1:]}" if s.note else "")
        )
    lines.append(f"- Drift: {answer.verdict}" + _checked(answer.drift))
    if answer.moved:
        lines.append("- What moved, strongest first:")
        lines.extend(f"    - {words}" for words in answer.moved)
    elif answer.drift is not None and answer.drift.status != "insufficient_data":
        lines.append("- What moved: nothing past its threshold")
    return "\n".join(lines) + "\n\n"


def _truth_line(answer: Answer) -> str:
    """The prediction-powered line: the interval and the class shares, or how many more labels it needs."""
    truth = answer.truth
    assert truth is not None
    if truth.headline is not None:
        line = f"- Production truth (random sample, PPI++): **{truth.headline}**"
        return line + (f"; class shares {truth.shares_line}" if truth.shares_line else "")
    if truth.refused is not None:
        return f"- Production truth: no interval ({truth.refused})"
    return (
        f"- Production truth: label **{truth.needed:,} more** sampled predictions for an interval "
        f"({truth.labelled:,} of {truth.min_labels:,}; Label tab)"
    )


def _checked(drift: DriftReport | None) -> str:
    if drift is None or drift.status == "insufficient_data":
        return ""
    return f". Last check: {drift.window_size:,} predictions, against the {drift.reference_source} reference"


def answer_details(answer: Answer) -> str:
    """The statistics behind the drift line, for the details: the test that moved most against its threshold,
    and this window's own level with the checks and windows that count toward confirming it."""
    drift = answer.drift
    if drift is None or drift.status == "insufficient_data":
        return ""
    line = f"Drift check: reported **{drift.status}**"
    if drift.raw_status and drift.raw_status != drift.status:
        line += (
            f"; this window alone: {drift.raw_status} ({drift.windows} window(s) sharing no prediction, "
            f"{drift.consecutive} check(s) in a row)"
        )
    if (row := answer.moved_most) is not None:
        reading = (
            f"{row.test} {row.statistic:.3g} (threshold {row.threshold:g})"
            if row.adjusted_p_value is None
            else f"{row.test}, adjusted p {row.adjusted_p_value:.2g} (threshold {row.threshold:g})"
        )
        if row.effect_size is not None and row.effect_threshold is not None:
            reading += f", effect {row.effect_size:.2f} (threshold {row.effect_threshold:g})"
        line += f"; moved most: **{row.feature}** ({reading}, {row.level})"
    if answer.shown_estimate is not None:
        line += f"  \nAccuracy estimated by {answer.shown_estimate.estimate.method} on the window's probabilities"
    if answer.estimate is not None and (trust := answer.estimate.trust) is not None:
        auc = "untested" if trust.domain_auc is None else f"{trust.domain_auc:.2f} (limit {trust.max_domain_auc:g})"
        line += f"  \nTrust: {trust.route.replace('_', ' ')}; domain AUC {auc}; label-shift p {trust.label_shift_p:.2g}"
    return line + "  \n"

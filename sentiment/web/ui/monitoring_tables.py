"""The Monitoring tab's tables: the latest drift results and the scheduled jobs' health."""

from __future__ import annotations

import time

import pandas as pd

from sentiment.monitoring.drift import DriftReport
from sentiment.service.serving import SentimentService


def stamp(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) if t else "-"


JOB_COLUMNS = [
    "job",
    "every (s)",
    "next run (UTC)",
    "last run (UTC)",
    "outcome",
    "last success (UTC)",
    "runs",
    "failures",
    "error",
]


def jobs_frame(service: SentimentService) -> pd.DataFrame:
    """Each job's health and when it runs next, so "not run yet" always comes with the time it will."""
    if service.jobs is None:
        return pd.DataFrame([{"job": "-", "outcome": "the scheduler is not running in this process"}])
    rows = []
    for status in service.jobs.runner.statuses.values():
        rows.append(
            {  # keys: JOB_COLUMNS
                "job": status.name,
                "every (s)": status.interval_s,
                "next run (UTC)": stamp(service.jobs.next_run(status.name)),
                "last run (UTC)": stamp(status.last_run),
                "outcome": status.last_outcome,
                "last success (UTC)": stamp(status.last_success),
                "runs": status.runs,
                "failures": status.failures,
                "error": status.last_error or "",
            }
        )
    return pd.DataFrame(rows)


DRIFT_COLUMNS = [
    "feature",
    "test",
    "statistic",
    "effect",
    "p_value",
    "adjusted_p_value",
    "level",
    "n_reference",
    "n_current",
]


def _number(value: float | None) -> str:
    """Three significant digits, so that a p-value of 1.6e-20 reads as such, not as 0 (blank: the test has none)."""
    return "" if value is None else f"{value:.3g}"


def _effect(size: float | None, threshold: float | None) -> str:
    if size is None:
        return ""
    return f"{size:.3g}" if threshold is None else f"{size:.3g} / {threshold:g}"


def drift_frame(report: DriftReport | None) -> pd.DataFrame:
    """One row per test: the statistic, its effect size against the effect threshold that grading needs ("0.13 /
    0.1"), the raw and Holm-adjusted p-values, the level, and the sample sizes."""
    if report is None or not report.results:
        return pd.DataFrame(columns=DRIFT_COLUMNS)
    rows = [
        [
            row.feature,
            row.test,
            _number(row.statistic),
            _effect(row.effect_size, row.effect_threshold),
            _number(row.p_value),
            _number(row.adjusted_p_value),
            row.level,
            row.n_reference,
            row.n_current,
        ]
        for row in report.results
    ]
    return pd.DataFrame(rows, columns=DRIFT_COLUMNS)

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
    "last run (UTC)",
    "outcome",
    "last success (UTC)",
    "runs",
    "failures",
    "error",
]


def jobs_frame(service: SentimentService) -> pd.DataFrame:
    if service.jobs is None:
        return pd.DataFrame([{"job": "-", "outcome": "the scheduler is not running in this process"}])
    rows = []
    for status in service.jobs.runner.statuses.values():
        rows.append(
            {  # keys: JOB_COLUMNS
                "job": status.name,
                "every (s)": status.interval_s,
                "last run (UTC)": stamp(status.last_run),
                "outcome": status.last_outcome,
                "last success (UTC)": stamp(status.last_success),
                "runs": status.runs,
                "failures": status.failures,
                "error": status.last_error or "",
            }
        )
    return pd.DataFrame(rows)


def drift_frame(report: DriftReport | None) -> pd.DataFrame:
    if report is None or not report.results:
        return pd.DataFrame(columns=["feature", "test", "statistic", "p_value", "adjusted_p_value", "level"])
    frame = pd.DataFrame([row.as_dict() for row in report.results])[
        ["feature", "test", "statistic", "p_value", "adjusted_p_value", "level", "n_reference", "n_current"]
    ]
    return frame.round({"statistic": 4, "p_value": 6, "adjusted_p_value": 6})

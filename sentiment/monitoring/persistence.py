"""The persistence rule for repeated drift checks: report a level only once several checks in a row reached it.

Scheduled checks run every few minutes on windows that overlap (a 500-prediction window, checked every 5 minutes),
so one unlucky window is seen by several checks, and a rule per check (p < 0.01) says nothing about a day of 288
of them. Requiring ``SENTIMENT_DRIFT_CONSECUTIVE_CHECKS`` checks in a row bounds the false alarms per day instead;
benchmarks/drift_scenarios.py measures the rate on in-distribution traffic and what the delay costs in detection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sentiment.monitoring.drift import DriftReport
from sentiment.monitoring.stat_tests import LEVELS


def persisted(report: DriftReport, raw_history: Sequence[str], checks_in_a_row: int) -> DriftReport:
    """The reported verdict: a level (warning, drift) is reported only when the last ``checks_in_a_row`` raw levels,
    this one included (``raw_history`` holds the earlier ones, oldest first), all reached it; otherwise the highest
    level they all reached (ok before there are that many). Insufficient data is reported at once and, in the
    caller's history, breaks a run. ``raw_status`` keeps this window's own level, ``consecutive`` how many checks in
    a row, ending with this one, reached it."""
    if report.status not in LEVELS:
        return replace(report, raw_status=report.status, consecutive=1)
    recent = [*raw_history, report.status][-max(checks_in_a_row, 1) :]
    graded = [LEVELS.index(level) if level in LEVELS else -1 for level in recent]
    floor = min(graded) if len(recent) >= checks_in_a_row else 0
    run = 0
    for level in reversed(graded):
        if level < graded[-1]:
            break
        run += 1
    return replace(report, status=LEVELS[max(floor, 0)], raw_status=report.status, consecutive=run)

"""The confirmation rule for repeated drift checks: a level is reported once windows that share no prediction show it.

Scheduled checks run every few minutes on the newest ``SENTIMENT_DRIFT_WINDOW`` predictions, so consecutive
windows overlap (with 50 new predictions between checks, 90% of a 500-row window is the previous window), and with
little traffic a check may see exactly the window the last one saw. Counting checks in a row then counts the same
evidence several times: an unlucky stretch of traffic stays in the window for many checks. The rule here counts
*evidence* instead: the reported status reaches a level only when every check of a run reached it and the run holds
``SENTIMENT_DRIFT_CONFIRM_WINDOWS`` windows (default 2) that share no prediction with each other. Under no drift,
disjoint windows fail independently, so the chance of a confirmed false alarm is about the square of a single
window's (for 2), which is what bounds the false alarms per *day* rather than per check;
benchmarks/drift_scenarios.py measures it, and what the wait (one more window of traffic) costs in detection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from sentiment.monitoring.drift import DriftReport
from sentiment.monitoring.stat_tests import LEVELS


@dataclass(frozen=True)
class CheckedWindow:
    """One check as the rule needs it: its own (raw) level and the ids of the oldest and newest prediction of its
    window (log row ids, or positions in a replayed stream: any numbering that grows with arrival)."""

    level: str  # ok | warning | drift | insufficient_data
    first: int
    last: int


def disjoint_windows(run: Sequence[CheckedWindow]) -> int:
    """How many windows of ``run`` (oldest first) share no prediction with each other, counted greedily from the
    newest: the newest, then the newest earlier one that ends before it starts, and so on (the largest such set)."""
    if not run:
        return 0
    count, start = 1, run[-1].first
    for check in reversed(run[:-1]):
        if check.last < start:
            count, start = count + 1, check.first
    return count


def _run_at(level: int, checks: Sequence[CheckedWindow]) -> list[CheckedWindow]:
    """The longest run of checks, ending with the newest, whose raw level reached ``level`` (a LEVELS index);
    insufficient data breaks a run."""
    run: list[CheckedWindow] = []
    for check in reversed(checks):
        if check.level not in LEVELS or LEVELS.index(check.level) < level:
            break
        run.append(check)
    return run[::-1]


def persisted(
    report: DriftReport,
    history: Sequence[CheckedWindow],
    window: tuple[int, int],
    confirm_windows: int,
) -> DriftReport:
    """The reported verdict of a check whose own result is ``report`` on the predictions ``window`` (ids of its
    oldest and newest), after the earlier checks ``history`` (oldest first) against the same reference.

    ``status`` is the highest level reached by every check of a run, ending with this one, that holds
    ``confirm_windows`` windows sharing no prediction (1: each check reports its own level); ok when none does.
    Insufficient data is reported at once. ``raw_status`` keeps this window's own level; ``consecutive`` counts the
    checks in a row that reached it and ``windows`` the disjoint windows among them.
    """
    checks = [*history, CheckedWindow(report.status, *window)]
    if report.status not in LEVELS:
        return replace(report, raw_status=report.status, consecutive=1, windows=1)
    status = 0
    for level in range(1, LEVELS.index(report.status) + 1):
        if disjoint_windows(_run_at(level, checks)) >= confirm_windows:
            status = level
    own = _run_at(LEVELS.index(report.status), checks)
    return replace(
        report,
        status=LEVELS[status],
        raw_status=report.status,
        consecutive=len(own),
        windows=disjoint_windows(own),
    )

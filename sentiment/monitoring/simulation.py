"""Scheduled drift checks replayed on feature frames: what the app's repeated checks would report, without an app.

The app checks the newest ``window`` predictions every few minutes; between two checks ``step`` new predictions
arrive, so consecutive windows overlap, and the confirmation rule (``monitoring.persistence``) reports a level once
``confirm_windows`` windows sharing no prediction reached it. ``day_levels`` replays one day of such checks on a
stream drawn from the reference's own distribution (every warning or drift there is a false alarm);
``predictions_until`` replays a shift (a stream that starts in distribution, then changes) and counts the shifted
predictions before the reported status first reaches a level. benchmarks/drift_scenarios.py and the scenario
tests run both on the model's features.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pandas as pd

from sentiment.monitoring.drift import CHECKS, Check, DriftReport, check_drift
from sentiment.monitoring.persistence import CheckedWindow, persisted
from sentiment.monitoring.stat_tests import LEVELS


def scheduled_checks(
    reference: pd.DataFrame,
    stream: pd.DataFrame,
    *,
    window: int,
    step: int,
    confirm_windows: int,
    min_window: int = 10,
    checks: Sequence[Check] = CHECKS,
) -> Iterator[tuple[int, DriftReport]]:
    """(predictions seen, persisted report) for each check on ``stream``, the first one once a full window has
    arrived, then one every ``step`` predictions, as the scheduler runs them on the newest ``window`` rows."""
    history: list[CheckedWindow] = []
    for end in range(window, len(stream) + 1, step):
        window_rows = stream.iloc[end - window : end]
        raw = check_drift(reference, window_rows, min_window=min_window, checks=checks, summaries=False)
        span = (end - window, end - 1)
        yield end, persisted(raw, history, span, confirm_windows)
        history.append(CheckedWindow(raw.status, *span))


def day_levels(
    reference: pd.DataFrame,
    stream: pd.DataFrame,
    *,
    window: int,
    step: int,
    confirm_windows: int,
    checks: Sequence[Check] = CHECKS,
) -> tuple[str, str]:
    """The highest persisted and the highest raw level over one day of checks on ``stream`` (a day's traffic)."""
    worst, worst_raw = 0, 0
    replay = scheduled_checks(
        reference, stream, window=window, step=step, confirm_windows=confirm_windows, checks=checks
    )
    for _, report in replay:
        worst = max(worst, LEVELS.index(report.status))
        worst_raw = max(worst_raw, LEVELS.index(report.raw_status))
    return LEVELS[worst], LEVELS[worst_raw]


def predictions_until(
    reference: pd.DataFrame,
    before: pd.DataFrame,
    after: pd.DataFrame,
    *,
    window: int,
    step: int,
    confirm_windows: int,
    level: str = "drift",
    checks: Sequence[Check] = CHECKS,
) -> int | None:
    """How many predictions of ``after`` (the shifted traffic, following a full in-distribution ``before``) arrive
    before the persisted status first reaches ``level``; None if it never does within ``after``."""
    stream = pd.concat([before, after], ignore_index=True)
    replay = scheduled_checks(
        reference, stream, window=window, step=step, confirm_windows=confirm_windows, checks=checks
    )
    for seen, report in replay:
        if seen > len(before) and LEVELS.index(report.status) >= LEVELS.index(level):
            return seen - len(before)
    return None

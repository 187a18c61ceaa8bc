"""The confirmation rule for repeated drift checks (``sentiment.monitoring.persistence``): a level is reported only
once windows that share no prediction reached it, with every check between them; checking the same window again
adds no evidence."""

from __future__ import annotations

from itertools import combinations, pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.monitoring.drift import DriftReport
from sentiment.monitoring.persistence import CheckedWindow, disjoint_windows, persisted
from sentiment.monitoring.stat_tests import LEVELS

WINDOW = 100


def _report(status: str) -> DriftReport:
    return DriftReport(status, WINDOW, 10, 0.0, None, ())


def _checks(levels: list[str], step: int) -> list[CheckedWindow]:
    """Checks every ``step`` new predictions on the newest ``WINDOW`` of a stream."""
    return [CheckedWindow(level, i * step, i * step + WINDOW - 1) for i, level in enumerate(levels)]


def _verdict(levels: list[str], step: int, confirm: int) -> DriftReport:
    *earlier, last = _checks(levels, step)
    return persisted(_report(last.level), earlier, (last.first, last.last), confirm)


def test_a_drifted_window_is_reported_once_a_window_sharing_none_of_its_predictions_drifts_too() -> None:
    step = 50  # two checks per window: the third check's window shares nothing with the first's
    assert _verdict(["drift"], step, 2).status == "ok"
    second = _verdict(["drift", "drift"], step, 2)
    assert (second.status, second.raw_status, second.consecutive, second.windows) == ("ok", "drift", 2, 1)
    third = _verdict(["drift", "drift", "drift"], step, 2)
    assert (third.status, third.consecutive, third.windows) == ("drift", 3, 2)
    assert third.as_dict()["windows"] == 2


def test_the_same_window_checked_again_is_no_new_evidence() -> None:
    same = [CheckedWindow("drift", 0, WINDOW - 1)] * 20  # no traffic between checks: the window never moves
    report = persisted(_report("drift"), same, (0, WINDOW - 1), 2)
    assert (report.status, report.consecutive, report.windows) == ("ok", 21, 1)


def test_a_gap_in_the_run_starts_it_again_and_the_lower_level_can_still_be_confirmed() -> None:
    step = 50
    assert _verdict(["drift", "ok", "drift", "drift"], step, 2).status == "ok"
    assert _verdict(["drift", "insufficient_data", "drift", "drift"], step, 2).status == "ok"
    assert _verdict(["warning", "drift", "drift"], step, 2).status == "warning"  # drift itself: one window so far
    assert _verdict(["drift", "drift", "insufficient_data"], step, 2).status == "insufficient_data"
    assert _verdict(["drift"], step, 1).status == "drift"  # 1: every check stands alone
    assert _verdict(["drift", "drift", "ok"], step, 2).as_dict()["raw_status"] == "ok"


def _most_disjoint(run: list[CheckedWindow]) -> int:
    """The largest set of pairwise disjoint windows, by brute force (the greedy count must equal it)."""
    for size in range(len(run), 0, -1):
        for chosen in combinations(run, size):
            ordered = sorted(chosen, key=lambda c: c.first)
            if all(a.last < b.first for a, b in pairwise(ordered)):
                return size
    return 0


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    levels=st.lists(st.sampled_from([*LEVELS, "insufficient_data"]), min_size=1, max_size=9),
    steps=st.lists(st.integers(0, 120), min_size=9, max_size=9),
    confirm=st.integers(1, 4),
)
def test_the_reported_level_is_the_highest_one_a_run_confirms_on_enough_disjoint_windows(
    levels: list[str], steps: list[int], confirm: int
) -> None:
    """Against a brute-force reading of the rule, for windows that slide forward by any amount (0: no traffic)."""
    starts = [sum(steps[:i]) for i in range(len(levels))]
    checks = [CheckedWindow(level, s, s + WINDOW - 1) for level, s in zip(levels, starts, strict=False)]
    *earlier, last = checks
    report = persisted(_report(last.level), earlier, (last.first, last.last), confirm)
    if last.level not in LEVELS:
        assert report.status == last.level
        return
    expected = 0
    for level in range(1, LEVELS.index(last.level) + 1):
        run: list[CheckedWindow] = []
        for check in reversed(checks):
            if check.level not in LEVELS or LEVELS.index(check.level) < level:
                break
            run.append(check)
        assert disjoint_windows(run[::-1]) == _most_disjoint(run)
        if _most_disjoint(run) >= confirm:
            expected = level
    assert report.status == LEVELS[expected]
    assert LEVELS.index(report.status) <= LEVELS.index(last.level)

"""benchmarks/trust_verdicts.py's threshold choice: it follows the windows it is given, never looks at the dataset it
reports (the label-shifted tweets leave with the tweets), and keeps in-distribution refusals at 5% at most.

The benchmark's table in benchmarks/README.md rests on these; the data it reads is the cache of
benchmarks/performance_estimation.py, which no test builds (minutes of scoring)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import trust_verdicts as tv


def _windows(set_name: str, auc: float, error: float, count: int = 10) -> list[tv.Window]:
    """``count`` windows of one set: no label shift seen, every estimator off by ``error``."""
    errors = dict.fromkeys(tv.ESTIMATORS, error)
    return [tv.Window(set_name, 200, auc, 0.5, 0.5, 0.5, errors) for _ in range(count)]


def test_the_choice_refuses_what_is_wrong_and_keeps_what_is_right() -> None:
    """In distribution (AUC 0.5, right), a set at AUC 0.8 that the estimate gets right, one at 0.9 that it gets
    wrong by 0.1: thresholds 0.80-0.89 make no wrong decision, and the middle of them, 0.85,
    is chosen. Without the wrong set every threshold from 0.80 is as good: the middle, 0.90."""
    right = _windows(tv.IN_DISTRIBUTION, 0.5, 0.01) + _windows("vader_amazon", 0.8, 0.01)
    wrong = _windows("airline_tweets", 0.9, 0.1)
    assert tv.choose(right + wrong) == 0.85
    assert tv.wrong(right + wrong, tv.choose(right + wrong)) == 0
    assert tv.choose(right) == 0.9


def test_in_distribution_refusals_are_capped_at_five_percent() -> None:
    """In-distribution windows at AUC 0.6 that are wrong anyway: refusing them would be "right", but it would refuse
    all in-distribution traffic, so only thresholds from 0.60 are allowed."""
    in_dist = _windows(tv.IN_DISTRIBUTION, 0.6, 0.1, count=20)
    assert tv.choose(in_dist) >= 0.6
    assert tv.refusal_rate(in_dist, tv.choose(in_dist)) == 0


def test_a_set_is_reported_under_a_threshold_chosen_without_its_dataset() -> None:
    """The table's threshold for a set does not move whatever that set's own windows say, and the label-shifted
    tweets are left out with the held-out tweets (the same texts)."""
    others = _windows(tv.IN_DISTRIBUTION, 0.5, 0.01) + _windows("vader_amazon", 0.8, 0.01)
    shifted_right = _windows(tv.LABEL_SHIFTED, 0.7, 0.01)
    shifted_wrong = _windows(tv.LABEL_SHIFTED, 0.7, 0.2)
    airline_right, airline_wrong = _windows("airline_tweets", 0.9, 0.01), _windows("airline_tweets", 0.9, 0.3)
    first = tv.table(others + airline_right + shifted_right)[1]
    assert tv.table(others + airline_wrong + shifted_right)[1]["airline_tweets"] == first["airline_tweets"]
    moved = tv.table(others + airline_right + shifted_wrong)[1]
    assert moved[tv.IN_DISTRIBUTION] == first[tv.IN_DISTRIBUTION]  # the label-shifted tweets never count for it
    assert moved["airline_tweets"] != first["airline_tweets"]  # they do for another set: the test can tell
    assert tv.dataset(tv.LABEL_SHIFTED) == tv.dataset(tv.IN_DISTRIBUTION) == "vader_tweets"

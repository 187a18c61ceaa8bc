"""The benchmark's scenarios at small scale on synthetic feature frames: in-distribution days stay quiet under the
confirmation rule, and a length shift and a doubled negative share reach drift within a few windows. Scenario (d),
a language shift, needs the model's own features of real sentences: tests/integration/test_language_shift.py."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sentiment.monitoring.simulation import day_levels, predictions_until

SHARES = {"negative": 0.25, "neutral": 0.35, "positive": 0.4}


def _traffic(
    n: int, rng: np.random.Generator, *, length: float = 80.0, shares: dict[str, float] = SHARES
) -> pd.DataFrame:
    chars = rng.gamma(4.0, length / 4.0, n)
    return pd.DataFrame(
        {
            "n_chars": chars.round(),
            "n_tokens": (chars / 4).round(),
            "confidence": rng.uniform(0.4, 1.0, n),
            "label": rng.choice(list(shares), n, p=list(shares.values())),
            "surface": rng.choice(["mention", "plain"], n, p=[0.4, 0.6]),
        }
    )


def test_in_distribution_days_rarely_reach_drift() -> None:
    """10 short days of 20 overlapping checks on fresh draws from the reference's distribution: at most one with
    drift (the benchmark's target is 5% of days on real features; 10 days cannot say more than that)."""
    rng = np.random.default_rng(0)
    reference = _traffic(3000, rng)
    replay = {"window": 200, "step": 50, "confirm_windows": 2}
    days = [day_levels(reference, _traffic(200 + 19 * 50, rng), **replay) for _ in range(10)]
    assert sum(status == "drift" for status, _ in days) <= 1


def test_a_length_shift_reaches_drift_within_a_few_windows() -> None:
    rng = np.random.default_rng(1)
    reference = _traffic(3000, rng)
    found = predictions_until(
        reference, _traffic(200, rng), _traffic(1000, rng, length=240.0), window=200, step=50, confirm_windows=2
    )
    assert found is not None and found <= 400  # reviews after tweets: three times the length


def test_a_doubled_negative_share_reaches_drift() -> None:
    rng = np.random.default_rng(2)
    reference = _traffic(3000, rng)
    doubled = {"negative": 0.5, "neutral": 0.25, "positive": 0.25}
    found = predictions_until(
        reference, _traffic(200, rng), _traffic(1500, rng, shares=doubled), window=200, step=50, confirm_windows=2
    )
    assert found is not None and found <= 600


def test_no_shift_means_no_detection() -> None:
    rng = np.random.default_rng(3)
    reference = _traffic(3000, rng)
    replay = {"window": 200, "step": 50, "confirm_windows": 2}
    assert predictions_until(reference, _traffic(200, rng), _traffic(600, rng), **replay) is None

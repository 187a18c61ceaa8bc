"""The review sample's draws (``ReviewSampler.draw``): each row enters with probability ``rate``, independently, so
the number drawn out of n is Binomial(n, rate); nothing is drawn while the sample is off; a process's stream is
seeded afresh (two samplers without an injected generator do not draw alike)."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.monitoring.review_sampler import ReviewSampler


def _within_binomial(drawn: int, n: int, rate: float, sigmas: float = 5.0) -> bool:
    """``drawn`` within ``sigmas`` standard deviations of Binomial(n, rate)'s mean (5 sigma: a false alarm about
    once in 1.7 million runs)."""
    return abs(drawn - n * rate) <= sigmas * math.sqrt(n * rate * (1 - rate)) + 1


@settings(max_examples=40, deadline=None)
@given(rate=st.floats(0.0, 1.0), seed=st.integers(0, 2**32 - 1))
def test_the_number_drawn_is_binomial_for_any_rate(rate: float, seed: int) -> None:
    """Over 20,000 rows in requests of 1 to 50, the count drawn is within 5 sigma of ``rate`` * 20,000 (a sampler
    that drew per request instead of per row, or at another rate, leaves the band)."""
    sampler = ReviewSampler(rate, daily_cap=200, rng=np.random.default_rng(seed))
    sizes = np.random.default_rng(seed + 1).integers(1, 51, size=800)
    drawn = sum(int(sampler.draw(int(n)).sum()) for n in sizes)
    assert _within_binomial(drawn, int(sizes.sum()), rate)


def test_the_default_rate_draws_two_percent_and_each_row_alone() -> None:
    """At the default 2%, 100,000 rows give 2,000 +- 5 sigma; a row's draw does not depend on its neighbours: pairs
    of consecutive rows are both drawn at rate^2 (within the binomial band), not at rate."""
    sampler = ReviewSampler(0.02, daily_cap=200, rng=np.random.default_rng(7))
    draws = np.concatenate([sampler.draw(10) for _ in range(10_000)])
    assert _within_binomial(int(draws.sum()), draws.size, 0.02)
    both = int((draws[:-1] & draws[1:]).sum())
    assert _within_binomial(both, draws.size - 1, 0.02**2)


def test_concurrent_request_threads_share_one_generator_safely() -> None:
    """Eight threads drawing at once (request threads) together draw Binomial(80,000, 0.1) rows."""
    sampler = ReviewSampler(0.1, daily_cap=200, rng=np.random.default_rng(3))
    counts: list[int] = []

    def work() -> None:
        counts.append(sum(int(sampler.draw(5).sum()) for _ in range(2000)))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _within_binomial(sum(counts), 80_000, 0.1)


@pytest.mark.parametrize(("rate", "cap"), [(0.0, 200), (0.5, 0)])
def test_a_sample_that_is_off_draws_nothing(rate: float, cap: int) -> None:
    sampler = ReviewSampler(rate, daily_cap=cap, rng=np.random.default_rng(0))
    assert not sampler.active
    assert sampler.draw(1000).sum() == 0


def test_every_process_draws_its_own_stream() -> None:
    """Without an injected generator each sampler is seeded from the operating system: two such samplers at rate
    0.5 agree on 256 draws only with probability 2^-256."""
    first, second = ReviewSampler(0.5, 200).draw(256), ReviewSampler(0.5, 200).draw(256)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize(
    ("rate", "cap", "message"), [(1.5, 1, "probability"), (-0.1, 1, "probability"), (0.1, -1, "count")]
)
def test_a_rate_outside_zero_one_or_a_negative_cap_is_refused(rate: float, cap: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReviewSampler(rate, cap)


@pytest.mark.parametrize(
    ("field", "value"), [("review_rate", "1.5"), ("review_rate", "-0.01"), ("review_daily_cap", "-1")]
)
def test_the_settings_refuse_a_rate_that_is_not_a_probability_and_a_negative_cap(
    field: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``SENTIMENT_REVIEW_RATE`` / ``SENTIMENT_REVIEW_DAILY_CAP`` are checked when the settings are read (the app
    stops at start naming the variable); the defaults are 2% and 200 a day."""
    from pydantic import ValidationError

    from sentiment.settings import Settings

    assert (Settings().review_rate, Settings().review_daily_cap) == (0.02, 200)
    monkeypatch.setenv(f"SENTIMENT_{field.upper()}", value)
    with pytest.raises(ValidationError, match=field):
        Settings()

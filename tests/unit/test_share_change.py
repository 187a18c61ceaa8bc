"""``share_change``: whether a window's class shares moved from the reference's, estimate against estimate.

Synthetic label shift (``test_quantification.label_shift_sample``: Gaussian classes, Bayes posteriors), where the
true shares are known."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_quantification import label_shift_sample

from sentiment.errors import EstimationInputError
from sentiment.labels import LABELS
from sentiment.monitoring.estimation import LabelledReference
from sentiment.monitoring.quantification import METHODS, classify_and_count, share_change

PRIOR = (0.25, 0.20, 0.55)


def _reference(seed: int = 0, n: int = 600) -> LabelledReference:
    probs, labels = label_shift_sample(n, PRIOR, np.random.default_rng(seed))
    return LabelledReference.of(probs, labels)


@pytest.mark.parametrize("method", METHODS)
def test_the_reference_against_itself_has_not_moved(method: str) -> None:
    """The reference's own rows as the window: the difference is 0 for every class and method (the method reads
    the same rows twice) and no class rose or fell, whatever the method's own bias."""
    reference = _reference()
    found = share_change(reference, reference.probabilities, method, bootstrap=60)
    assert found.difference == pytest.approx(dict.fromkeys(LABELS, 0.0), abs=1e-9)
    assert found.direction == dict.fromkeys(LABELS, 0)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.integers(50, 400))
def test_counting_compares_predicted_with_predicted(seed: int, n: int) -> None:
    """For ``cc`` the reference share is the share the model *predicts* on the reference (not its label share) and
    the difference is the counted window minus it, exactly; a direction of +1/-1 means the band lies wholly
    above/below 0."""
    reference = _reference(seed % 7)
    window, _ = label_shift_sample(n, (0.6, 0.2, 0.2), np.random.default_rng(seed))
    found = share_change(reference, window, "cc", bootstrap=50, seed=seed)
    predicted = classify_and_count(reference.probabilities)
    assert list(found.reference.values()) == pytest.approx(predicted)
    assert list(found.difference.values()) == pytest.approx(classify_and_count(window) - predicted)
    for label, direction in found.direction.items():
        low, high = found.band[label]
        assert low <= high
        assert direction == (1 if low > 0 else -1 if high < 0 else 0)


@pytest.mark.parametrize("method", ["cc", "acc", "em"])
def test_a_real_rise_is_seen_and_a_same_mix_window_holds(method: str) -> None:
    """A window whose negative share is 0.60 against 0.25: negative +1 and positive -1 (the positive share fell
    from 0.55 to 0.20). A fresh window of the reference's own mix: every class 0. Fails if the band ignored a
    shift of 0.35 or fired on sampling noise alone."""
    reference = _reference()
    rng = np.random.default_rng(1)
    shifted, _ = label_shift_sample(800, (0.60, 0.20, 0.20), rng)
    moved = share_change(reference, shifted, method, bootstrap=100)
    assert moved.direction["negative"] == 1 and moved.direction["positive"] == -1
    same, _ = label_shift_sample(800, PRIOR, rng)
    assert share_change(reference, same, method, bootstrap=100).direction == dict.fromkeys(LABELS, 0)


def test_bad_inputs_say_what_is_wrong() -> None:
    reference = _reference()
    window = reference.probabilities[:50]
    with pytest.raises(EstimationInputError, match="unknown class-share method 'median'"):
        share_change(reference, window, "median")
    with pytest.raises(EstimationInputError, match="level"):
        share_change(reference, window, level=1.0)
    with pytest.raises(EstimationInputError, match="bootstrap"):
        share_change(reference, window, bootstrap=-1)
    assert share_change(reference, window, bootstrap=0).as_dict()["replicas"] == 0


def test_an_interval_against_a_sampled_reference_counts_the_references_noise_too() -> None:
    """Known answers at 90%: a share of 0.30 with interval 0.25-0.35 (window s.e. 0.10 / 3.29 = 0.0304) against a
    reference of 0.245 on 630 rows (s.e. 0.0171): the bound is 1.645 * 0.0349 = 0.0574 > 0.055, so it held, where
    reading the reference as exact (0.245 < 0.25) called it a rise; against 0.23 (difference 0.07) it rose; the
    mirror image fell."""
    from sentiment.monitoring.quantification import interval_change

    assert interval_change(0.30, 0.25, 0.35, 0.245, 630, 0.90) == 0
    assert interval_change(0.30, 0.25, 0.35, 0.23, 630, 0.90) == 1
    assert interval_change(0.70, 0.65, 0.75, 0.77, 630, 0.90) == -1
    with pytest.raises(EstimationInputError):
        interval_change(0.3, 0.2, 0.4, 1.2, 630)
    with pytest.raises(EstimationInputError):
        interval_change(0.3, 0.2, 0.4, 0.3, 0)


@given(
    estimate=st.floats(0.05, 0.95),
    half=st.floats(0.005, 0.2),
    reference=st.floats(0.0, 1.0),
    n_reference=st.integers(1, 100_000),
)
@example(estimate=0.06212551937394296, half=0.06212551937394296, reference=0.0, n_reference=1)  # a tie read as a rise
def test_the_sampled_reference_rule_is_never_more_eager_than_reading_it_as_exact(
    estimate: float, half: float, reference: float, n_reference: int
) -> None:
    """Whatever the figures: a change it reports, the exact-reference rule reports too (the reference's noise only
    widens the bound), in the same direction; and with a reference of a million rows the two agree away from the
    interval's ends."""
    from sentiment.monitoring.quantification import interval_change

    low, high = estimate - half, estimate + half
    exact = 1 if reference < low else -1 if reference > high else 0
    found = interval_change(estimate, low, high, reference, n_reference, 0.90)
    assert found in (0, exact)
    if min(abs(reference - low), abs(reference - high)) > 0.01:
        assert interval_change(estimate, low, high, reference, 10**9, 0.90) == exact

"""The trust gate of the app's class shares (``sentiment.service.class_shares.label_free_shares``): a label-shift
correction is given only where the label-shift fit test does not refute label shift; otherwise no corrected number,
the counted shares, and a note that says why.

Synthetic data from ``test_quantification``: Gaussian classes with Bayes posteriors (pure label shift), and the same
predictions made less sure (``soften``: another domain, the class mix unchanged)."""

from __future__ import annotations

import numpy as np
from test_quantification import label_shift_sample, soften

from sentiment.monitoring.estimation import LabelledReference
from sentiment.service.class_shares import label_free_shares

PRIOR = (0.25, 0.20, 0.55)


def _reference() -> LabelledReference:
    probs, labels = label_shift_sample(600, PRIOR, np.random.default_rng(0))
    return LabelledReference.of(probs, labels)


def test_a_correction_is_given_under_label_shift_and_refused_on_another_domain() -> None:
    """Label shift (negative 0.60): the fit test holds, ``acc`` is given and its change compares with the reference's
    label shares. The same mix made less sure: the fit test rejects, no ``acc`` number, the counted shares stand
    and the note names the correction and the p-value. Fails if the gate let a refuted correction through."""
    reference = _reference()
    rng = np.random.default_rng(3)
    shifted, _ = label_shift_sample(800, (0.60, 0.20, 0.20), rng)
    counted, corrected, fit, change, note = label_free_shares(reference, shifted, "acc", 60)
    assert not fit.detected and corrected is not None and corrected.method == "acc" and note is None
    assert change.method == "acc" and change.direction["negative"] == 1
    assert abs(corrected.shares["negative"] - 0.60) < abs(counted.shares["negative"] - 0.60)

    other_domain = soften(label_shift_sample(800, PRIOR, rng)[0], 0.3)
    counted, corrected, fit, change, note = label_free_shares(reference, other_domain, "acc", 60)
    assert fit.detected and corrected is None and change.method == "cc"
    assert note is not None and note.startswith("no acc correction") and f"p={fit.p_value:.3g}" in note


def test_counting_is_always_given_and_says_when_the_window_is_not_label_shifted() -> None:
    """``cc`` has no label-shift assumption to refute: its shares are given either way, with a note when the fit
    test rejects (the counts are what the model predicts, not the true mix)."""
    reference = _reference()
    window = soften(label_shift_sample(800, PRIOR, np.random.default_rng(4))[0], 0.3)
    counted, corrected, fit, _, note = label_free_shares(reference, window, "cc", 60)
    assert corrected is None and counted.method == "cc" and fit.detected
    assert note is not None and "not a label-shifted reference" in note

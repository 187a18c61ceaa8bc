"""A drift check reads the domain classifier's scores three times (the test, its picture, the explanation): the
classifier is fitted once for the same windows, and fitted again as soon as either window changes."""

from __future__ import annotations

import numpy as np
import pytest

from sentiment.monitoring import domain_classifier


def test_the_same_windows_are_fitted_once_and_new_windows_again(monkeypatch: pytest.MonkeyPatch) -> None:
    fits: list[int] = []
    fit = domain_classifier._fit_scores

    def counted(*args: object, **kwargs: object) -> domain_classifier.DomainScores:
        fits.append(1)
        return fit(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(domain_classifier, "_fit_scores", counted)
    rng = np.random.default_rng(0)
    reference, current = rng.standard_normal((120, 16)), rng.standard_normal((80, 16))
    first = domain_classifier.domain_scores(reference, current)
    again = domain_classifier.domain_scores(reference.copy(), current.copy())  # equal values, other arrays
    assert again is first and len(fits) == 1
    moved = current.copy()
    moved[0, 0] += 1e-9
    other = domain_classifier.domain_scores(reference, moved)
    assert other is not first and len(fits) == 2
    np.testing.assert_array_equal(other.reference_rows, first.reference_rows)  # seeded: the same split

"""Class shares that hold under label shift (quantification): estimators, bands, shift tests, method choice.

``estimate_shares(reference, window_probabilities, method)`` gives one window's negative / neutral / positive
shares with a bootstrap band; ``label_shift_test`` and ``label_shift_fit_test`` say whether the class mix moved and
whether label shift explains the window; ``share_change`` whether a share moved away from the reference's;
``choose_method`` picks the estimator leave-one-dataset-out.
"""

from sentiment.monitoring.quantification.bcts import BiasCorrectedTemperature
from sentiment.monitoring.quantification.change import ShareChange, interval_change, share_change
from sentiment.monitoring.quantification.chooser import MethodChoice, choose_method, window_errors
from sentiment.monitoring.quantification.methods import (
    METHODS,
    Quantifier,
    classify_and_count,
    conditional_rates,
    em_prior,
    probabilistic_classify_and_count,
)
from sentiment.monitoring.quantification.shares import BOOTSTRAP, LEVEL, ClassShares, estimate_shares
from sentiment.monitoring.quantification.shift_tests import (
    ALPHA,
    ShiftTest,
    label_shift_fit_test,
    label_shift_test,
)
from sentiment.monitoring.quantification.simplex import simplex_least_squares

__all__ = [
    "ALPHA",
    "BOOTSTRAP",
    "LEVEL",
    "METHODS",
    "BiasCorrectedTemperature",
    "ClassShares",
    "MethodChoice",
    "Quantifier",
    "ShareChange",
    "ShiftTest",
    "choose_method",
    "classify_and_count",
    "conditional_rates",
    "em_prior",
    "estimate_shares",
    "interval_change",
    "label_shift_fit_test",
    "label_shift_test",
    "probabilistic_classify_and_count",
    "share_change",
    "simplex_least_squares",
    "window_errors",
]

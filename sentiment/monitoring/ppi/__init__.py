"""Prediction-powered inference (PPI++): intervals from a few random labels plus the model's probabilities.

Intervals for the traffic's accuracy, class shares, per-class precision and recall and macro-F1 from a few labels of
a random review sample plus the model's calibrated probabilities on every prediction of the window (PPI++,
Angelopoulos, Duchi and Zrnic 2023; active inference, Zrnic and Candes 2024).

Pure numpy/scipy. ``mean`` and ``ratios``: the estimators; ``quantities``: the owner's numbers; ``designs``:
stratified and active (inverse-probability-weighted) sampling; ``sample``: the checked inputs, provenance and the
randomness check; ``result``: ``PPIResult``.
"""

from sentiment.monitoring.ppi.designs import (
    inclusion_probabilities,
    ppi_active_accuracy,
    ppi_active_mean,
    ppi_stratified_accuracy,
    ppi_stratified_mean,
)
from sentiment.monitoring.ppi.mean import ppi_mean
from sentiment.monitoring.ppi.quantities import (
    WindowIntervals,
    ppi_accuracy,
    ppi_class_shares,
    ppi_macro_f1,
    ppi_precision,
    ppi_recall,
    window_intervals,
)
from sentiment.monitoring.ppi.ratios import RatioRows, ppi_mean_of_ratios
from sentiment.monitoring.ppi.result import LEVELS, PPIResult
from sentiment.monitoring.ppi.sample import (
    FEEDBACK,
    RANDOM_SAMPLE,
    LabelledRows,
    RandomnessCheck,
    WindowPredictions,
    sample_looks_random,
)

__all__ = [
    "FEEDBACK",
    "LEVELS",
    "RANDOM_SAMPLE",
    "LabelledRows",
    "PPIResult",
    "RandomnessCheck",
    "RatioRows",
    "WindowIntervals",
    "WindowPredictions",
    "inclusion_probabilities",
    "ppi_accuracy",
    "ppi_active_accuracy",
    "ppi_active_mean",
    "ppi_class_shares",
    "ppi_macro_f1",
    "ppi_mean",
    "ppi_mean_of_ratios",
    "ppi_precision",
    "ppi_recall",
    "ppi_stratified_accuracy",
    "ppi_stratified_mean",
    "sample_looks_random",
    "window_intervals",
]
